"""Plates whose line is turned in the photo, made from the EU and BR photos: how often localize
finds each labelled plate, and reads it exactly or within one character. The question behind
cutting a turned candidate upright (localize.upright) and reading it with its sides kept
vertical too (localize.level_sided; RESULTS.md §0, "Plates turned in the photo"), both made
looking at three of easypr-cn's misses and at nothing here.

Two ways a plate's line turns, each photo warped about its plate's centre (seeded):
- seen from the side or from above (`askew`): a vertical shear of 20-40 degrees either way, so
  the line turns and the letters stay upright;
- turned (`turned`): the whole photo rotated 45-60 degrees either way, letters and all.
A plate counts as found when a candidate's box overlaps the bounds of its warped box (IoU >=
0.3), and as read when one of those candidates' readings is the plate exactly (or within one
edit). No index is built and nothing is tuned. Run it on another checkout (PYTHONPATH) to
measure the commit before.

Run: .venv/bin/python experiments/turned_plates.py --out experiments/turned_plates.json [--limit N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from photos import SETS
from rapidfuzz.distance import Levenshtein

from platesearch.datasets import load_dataset
from platesearch.localize import localize
from platesearch.media import read_image
from platesearch.metrics import box_iou

DATASETS = ("openalpr-eu", "openalpr-br")
WARPS = {"askew": (20.0, 40.0), "turned": (45.0, 60.0)}  # degrees, either way


def warp_matrix(kind: str, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """The 2x3 affine warp of one kind about the plate's centre."""
    if kind == "turned":
        return cv2.getRotationMatrix2D(centre, degrees, 1.0)
    shear = np.tan(np.radians(degrees))  # y' = y - shear * (x - cx): the line rises, verticals stay
    return np.float32([[1, 0, 0], [-shear, 1, shear * centre[0]]])


def warped(photo: np.ndarray, box: tuple[int, int, int, int], kind: str, degrees: float):
    """The photo warped about its plate, and the bounds of the warped plate box."""
    x, y, w, h = box
    matrix = warp_matrix(kind, (x + w / 2, y + h / 2), degrees)
    image = cv2.warpAffine(photo, matrix, photo.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    corners = cv2.transform(np.float32([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]]), matrix)[0]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    return image, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def measure(dataset: str, kind: str, limit: int | None, rng: np.random.Generator) -> dict:
    items = load_dataset(SETS[dataset][0]).items[:limit]
    found = exact = near = 0
    for item in items:
        low, high = WARPS[kind]
        degrees = float(rng.uniform(low, high)) * float(rng.choice([-1, 1]))
        image, box = warped(read_image(item.path), item.box, kind, degrees)
        hits = [c for c in localize(image) if box_iou(c.box, box) >= 0.3]
        readings = {r for c in hits for r in c.readings}
        distance = min((Levenshtein.distance(item.plate, r) for r in readings), default=len(item.plate))
        found += bool(hits)
        exact += distance == 0
        near += distance <= 1
    return {"photos": len(items), "found": found, "read_exactly": exact, "read_within_one": near}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos of each set")
    args = parser.parse_args()
    results = {}
    for dataset in DATASETS:
        for kind in WARPS:
            rng = np.random.default_rng(sorted(WARPS).index(kind) + 10 * DATASETS.index(dataset))
            results[f"{dataset} {kind}"] = measure(dataset, kind, args.limit, rng)
            print(f"{dataset} {kind}: {results[f'{dataset} {kind}']}", flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
