"""Localization recall and speed on the full photos of ../shared/datasets (openalpr-eu, -br).

Recall: the fraction of photos where at least one candidate's box overlaps the labelled
plate box with IoU >= 0.3 (and >= 0.5). Also the median number of candidates per photo,
seconds per photo, and how often the plate is the top-ranked candidate.

Run: .venv/bin/python benchmarks/localization.py [--max-side 1280 960 ...] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from platesearch.datasets import load_dataset
from platesearch.localize import DEFAULT_MAX_CANDIDATES, get_reader, localize
from platesearch.media import read_image
from platesearch.metrics import box_iou

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def run(dataset_name: str, max_side: int, limit: int | None) -> dict:
    dataset = load_dataset(SHARED / dataset_name)
    items = dataset.items[:limit] if limit else dataset.items
    hits30 = hits50 = top1 = 0
    counts, seconds = [], []
    for item in items:
        image = read_image(item.path)
        started = time.perf_counter()
        candidates = localize(image, max_side=max_side)
        seconds.append(time.perf_counter() - started)
        counts.append(len(candidates))
        overlaps = [box_iou(c.box, item.box) for c in candidates]
        hits30 += any(o >= 0.3 for o in overlaps)
        hits50 += any(o >= 0.5 for o in overlaps)
        top1 += bool(overlaps) and overlaps[0] >= 0.3
    n = len(items)
    return {
        "dataset": dataset_name,
        "max_side": max_side,
        "photos": n,
        "recall_iou30": hits30 / n,
        "recall_iou50": hits50 / n,
        "top_candidate_iou30": top1 / n,
        "median_candidates": statistics.median(counts),
        "seconds_per_photo_median": statistics.median(seconds),
        "seconds_per_photo_mean": statistics.fmean(seconds),
    }


def time_sizes(max_side: int, rounds: int = 3) -> None:
    """Seconds per photo at typical sizes: one real EU photo resized, min/median/max of `rounds`."""
    import cv2

    photo = read_image(load_dataset(SHARED / "openalpr-eu").items[0].path)
    print(f"| photo size | max side {max_side}: s/photo min / median / max | candidates |")
    print("|---|---|---|")
    for width, height in ((480, 360), (1280, 720), (1920, 1080)):
        image = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            found = localize(image, max_side=max_side)
            times.append(time.perf_counter() - started)
        print(
            f"| {width}x{height} | {min(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f} | {len(found)} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-side", type=int, nargs="+", default=[1280])
    parser.add_argument("--datasets", nargs="+", default=["openalpr-eu", "openalpr-br"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos of each dataset")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sizes-only", action="store_true", help="only time typical photo sizes")
    args = parser.parse_args()
    get_reader()  # load once, outside the timings
    for max_side in args.max_side:
        time_sizes(max_side)
    if args.sizes_only:
        return
    results = []
    print(
        f"| dataset | max side | photos | recall IoU>=0.3 | recall IoU>=0.5 | top candidate IoU>=0.3 | median candidates (cap {DEFAULT_MAX_CANDIDATES}) | s/photo median | s/photo mean |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for max_side in args.max_side:
        for name in args.datasets:
            r = run(name, max_side, args.limit)
            results.append(r)
            print(
                f"| {name} | {max_side} | {r['photos']} | {r['recall_iou30']:.3f} | {r['recall_iou50']:.3f} | {r['top_candidate_iou30']:.3f} | {r['median_candidates']:g} | {r['seconds_per_photo_median']:.2f} | {r['seconds_per_photo_mean']:.2f} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
