"""Exploration (BENCHMARKS.md, "Indexing on a CPU without native bfloat16"): EasyOCR's text
detector quantized to int8 against the shipped detector, inside localization.

The shipped detector (localize.get_reader: float32 or bfloat16 by CPU) is quantized with
torch's FX graph mode (x86 qconfig), calibrated by localizing the first CALIBRATION_PHOTOS CN
photos, then both localize the same EU and BR photos at 1280x720 as
benchmarks/localize_cost.py, one thread, CPU seconds a photo and recall. Cap the CPU to AVX2
with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 PLATESEARCH_DETECTOR_PRECISION=float32.

With --sets, the int8 detector localizes every photo of those photo sets (experiments/photos.py
SETS) instead, and each set's recall at IoU >= 0.3 per plate (and per width band), its misses
and the median candidates a photo are written to --out, to set beside the shipped detector's figures in
experiments/pipeline_views.json.

Run: PLATESEARCH_THREADS=1 .venv/bin/python experiments/int8_detector.py [--photos 40]
     PLATESEARCH_THREADS=1 .venv/bin/python experiments/int8_detector.py --sets eu-in-1920 ... --out F
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import cv2
import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

import platesearch.localize as localize_module
from platesearch.datasets import load_dataset
from platesearch.metrics import box_iou
from platesearch.runtime import configure_torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "experiments"))
from indexing import photos_1280x720  # noqa: E402
from localize_cost import measure  # noqa: E402
from photos import SETS, localization_figures  # noqa: E402

CALIBRATION_PHOTOS = 16
CN_IMAGES = ROOT.parent / "shared" / "datasets" / "easypr-cn" / "images"


def set_localization(name: str) -> dict:
    """photos.localization's figures for the int8 detector, localizing each photo here (no
    index), and the plates it missed."""
    found, misses, boxes = [], [], {}
    for item in load_dataset(SETS[name][0]).items:
        if item.path not in boxes:
            image = cv2.imread(str(item.path))
            boxes[item.path] = [] if image is None else [c.box for c in localize_module.localize(image)]
        hit = any(box_iou(box, item.box) >= 0.3 for box in boxes[item.path])
        found.append((item.box[2], hit))
        misses += [] if hit else [item.plate]
    return {**localization_figures(found, [len(b) for b in boxes.values()]), "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--sets", nargs="*", default=[])
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--float-upconv", action="store_true", help="leave the U-Net's upconv blocks and conv_cls in float"
    )
    args = parser.parse_args()
    configure_torch(1)
    reader = localize_module.get_reader()
    shipped = reader.detector
    net = copy.deepcopy(shipped.net).to(memory_format=torch.contiguous_format).float().eval()
    mapping = get_default_qconfig_mapping("x86")
    for name in ("upconv1", "upconv2", "upconv3", "upconv4", "conv_cls") if args.float_upconv else ():
        mapping = mapping.set_module_name(name, None)
    prepared = prepare_fx(net, mapping, example_inputs=(torch.randn(1, 3, 384, 640),))
    reader.detector = localize_module._channels_last(prepared, bfloat16=False)
    for path in sorted(CN_IMAGES.glob("*.jpg"))[:CALIBRATION_PHOTOS]:
        image = cv2.imread(str(path))
        if image is not None:
            localize_module.localize(image)
    int8 = localize_module._channels_last(convert_fx(prepared), bfloat16=False)
    if args.sets:
        reader.detector = int8
        results = {}
        for name in args.sets:
            results[name] = set_localization(name)
            print(name, results[name], flush=True)
            args.out.write_text(json.dumps(results, indent=1))
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos_1280x720(Path(tmp), args.photos)
        for name, detector in (("int8", int8), ("shipped", shipped)):
            reader.detector = detector
            print(name, measure(paths, 640), flush=True)


if __name__ == "__main__":
    main()
