"""The activation ranges of the int8 text detector (`platesearch/quantized_detector.py`).

Runs EasyOCR's float32 detector with an observer after each quantized layer over the 18 EU and
BR car photos of the bundled sample (datasets/sample), each on the canvas localize gives it,
on two threads (the order of the sums: the shipped ranges were observed so), and writes what
the observers saw, with its manifest. The same photos are also in openalpr-eu and openalpr-br.
Adding each photo at half its canvas, or the sample's 30 crops as read_crop sees them, made the
score maps of 8 EU/BR photos at 1280x720 and 4 CN photos further from float32's (largest
difference 0.18 -> 0.62 and 0.53; RESULTS.md §0, "The detector in int8").

Reproduce the shipped ranges (seconds; the same bytes on every run):

    .venv/bin/python experiments/calibrate_detector.py --out platesearch/weights
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import torch

from platesearch.localize import detector_canvas, detector_input, plain_reader
from platesearch.media import file_sha256
from platesearch.quantized_detector import RANGES, RANGES_MANIFEST, observed_detector, observed_ranges

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
CALIBRATION_THREADS = 2  # float sums split the same way on every machine


def calibration_inputs(sample: Path) -> list[tuple[str, torch.Tensor]]:
    """(name, detector input) for every calibration canvas, in a fixed order."""
    inputs = []
    for path in sorted((sample / "photos" / "images").glob("*.jpg")):
        photo = cv2.imread(str(path))
        inputs.append((path.name, detector_input(photo, detector_canvas(photo.shape))[0]))
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, required=True, help="folder for the ranges and their manifest")
    args = parser.parse_args()
    if not (args.sample / "photos" / "images").is_dir():
        parser.error(f"{args.sample} holds no photos/images folder: give the bundled sample (datasets/sample)")
    observed = observed_detector(plain_reader().detector)
    torch.set_num_threads(CALIBRATION_THREADS)  # after plain_reader, which sets the process's budget
    inputs = calibration_inputs(args.sample)
    with torch.no_grad():
        for _, batch in inputs:
            observed(batch)
    args.out.mkdir(parents=True, exist_ok=True)
    ranges = args.out / RANGES.name
    torch.save(observed_ranges(observed), ranges)
    manifest = {
        "sha256": file_sha256(ranges),
        "command": "experiments/calibrate_detector.py",
        "torch": torch.__version__,
        "canvases": len(inputs),
        "inputs": [name for name, _ in inputs],
    }
    (args.out / RANGES_MANIFEST.name).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(inputs)} canvases observed -> {ranges}")


if __name__ == "__main__":
    main()
