"""Crop files read with the detector in bfloat16 and in int8, side by side (RESULTS.md §0,
"The detector in int8").

`index --crops` reads each crop file with `read_plate_crop`, whose `read_crop` runs the text
detector on the enlarged crop. Each of the first --crops crops of each set is read twice in
one process, one thread, the reader's detector swapped between the shipped bfloat16 one and
the int8 one (quantized_detector.py); a crop counts when its label is one of its readings.
The counts, and the crops read one way only, go to --out.

Run: PLATESEARCH_THREADS=1 .venv/bin/python experiments/detector_precision_crops.py --crops 250 --out F
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

import platesearch.localize as localize_module
from platesearch.datasets import load_dataset
from platesearch.runtime import configure_torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SETS = ("openalpr-us-crops", "openalpr-br-crops")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=250, help="the first this many crops of each set")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    configure_torch(1)
    reader = localize_module.get_reader()
    detectors = {
        precision: localize_module.detector_in(localize_module.plain_reader().detector, precision)
        for precision in ("bfloat16", "int8")
    }
    results = {}
    for name in SETS:
        counts, one_way_only = dict.fromkeys(detectors, 0), []
        items = load_dataset(SHARED / name).items[: args.crops]
        for item in items:
            crop = cv2.imread(str(item.path))
            if crop is None:
                continue
            read = {}
            for precision, detector in detectors.items():
                reader.detector = detector
                read[precision] = item.plate in localize_module.read_plate_crop(crop)[0]
                counts[precision] += read[precision]
            if len(set(read.values())) > 1:
                one_way_only.append({"crop": item.path.name, "plate": item.plate, **read})
        results[name] = {"crops": len(items), "read_exactly": counts, "one_way_only": one_way_only}
        print(name, results[name], flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
