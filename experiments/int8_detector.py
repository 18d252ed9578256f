"""Exploration (BENCHMARKS.md, "Indexing on a CPU without native bfloat16"): EasyOCR's text
detector quantized to int8 against the shipped detector, inside localization.

The shipped detector (localize.get_reader: float32 or bfloat16 by CPU) is quantized with
torch's FX graph mode (x86 qconfig), calibrated by localizing the first CALIBRATION_PHOTOS CN
photos, then both localize the same EU and BR photos at 1280x720 as
benchmarks/localize_cost.py, one thread, CPU seconds a photo and recall. Cap the CPU to AVX2
with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 PLATESEARCH_DETECTOR_PRECISION=float32.

Run: PLATESEARCH_THREADS=1 .venv/bin/python experiments/int8_detector.py [--photos 40]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import cv2
import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

import platesearch.localize as localize_module
from platesearch.runtime import configure_torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from indexing import photos_1280x720  # noqa: E402
from localize_cost import measure  # noqa: E402

CALIBRATION_PHOTOS = 16
CN_IMAGES = ROOT.parent / "shared" / "datasets" / "easypr-cn" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    configure_torch(1)
    reader = localize_module.get_reader()
    shipped = reader.detector
    net = copy.deepcopy(shipped.net).to(memory_format=torch.contiguous_format).float().eval()
    prepared = prepare_fx(net, get_default_qconfig_mapping("x86"), example_inputs=(torch.randn(1, 3, 384, 640),))
    reader.detector = localize_module._channels_last(prepared, bfloat16=False)
    for path in sorted(CN_IMAGES.glob("*.jpg"))[:CALIBRATION_PHOTOS]:
        image = cv2.imread(str(path))
        if image is not None:
            localize_module.localize(image)
    int8 = localize_module._channels_last(convert_fx(prepared), bfloat16=False)
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos_1280x720(Path(tmp), args.photos)
        for name, detector in (("int8", int8), ("shipped", shipped)):
            reader.detector = detector
            print(name, measure(paths, 640), flush=True)


if __name__ == "__main__":
    main()
