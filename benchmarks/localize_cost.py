"""CPU seconds per 1280x720 photo for localization (whole-photo pass, zooms, re-reading candidates).

Measured as process CPU time with one thread, so the figure holds even while other work
shares the machine; photos/s on N cores is then about N / (CPU seconds per photo), the
indexer's worker processes being single-threaded (BENCHMARKS.md compares it with wall-clock
runs). Photos: half EU, half BR, resized to 1280x720 (benchmarks/indexing.py).

Run: PLATESEARCH_THREADS=1 .venv/bin/python benchmarks/localize_cost.py [--photos 20] [--max-side 640 512]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
from indexing import photos_1280x720  # the benchmarks folder is on the path of its scripts

import platesearch.localize as localize_module
from platesearch.metrics import box_iou
from platesearch.runtime import configure_torch


def measure(paths: dict[str, tuple[int, int, int, int]], max_side: int) -> dict:
    spent = {"zoom": 0.0, "read_again": 0.0}
    originals = {name: getattr(localize_module, f"_{name}") for name in spent}

    def timed(name):
        def call(*args, **kwargs):
            started = time.process_time()
            try:
                return originals[name](*args, **kwargs)
            finally:
                spent[name] += time.process_time() - started

        return call

    for name in spent:
        setattr(localize_module, f"_{name}", timed(name))
    try:
        localize_module.localize(cv2.imread(next(iter(paths))), max_side=max_side)  # warm-up
        spent.update(dict.fromkeys(spent, 0.0))
        per_photo, found, candidates = [], 0, []
        for path, box in paths.items():
            image = cv2.imread(path)
            started = time.process_time()
            result = localize_module.localize(image, max_side=max_side)
            per_photo.append(time.process_time() - started)
            candidates.append(len(result))
            found += any(box_iou(c.box, box) >= 0.3 for c in result)
    finally:
        for name, original in originals.items():
            setattr(localize_module, f"_{name}", original)
    n = len(paths)
    mean = statistics.fmean(per_photo)
    return {
        "max_side": max_side,
        "photos": n,
        "cpu_s_per_photo": round(mean, 2),
        "of_which_zoom": round(spent["zoom"] / n, 2),
        "of_which_read_again": round(spent["read_again"] / n, 2),
        "photos_per_s_2_cores_est": round(2 / mean, 2),
        "recall_iou30": round(found / n, 3),
        "median_candidates": statistics.median(candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--max-side", type=int, nargs="+", default=[640])
    args = parser.parse_args()
    configure_torch(1)
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos_1280x720(Path(tmp), args.photos)
        for max_side in args.max_side:
            print(measure(paths, max_side), flush=True)


if __name__ == "__main__":
    main()
