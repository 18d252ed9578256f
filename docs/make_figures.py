"""Regenerate docs/render_vs_binarized.png: the render of a label beside the binarized real crop.

Run: .venv/bin/python docs/make_figures.py  (uses the bundled sample in datasets/sample)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from platesearch.binarize import binarize
from platesearch.datasets import load_dataset
from platesearch.io import read_image
from platesearch.render import render_plate

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "datasets" / "sample"
GAP = 8


def main(count: int = 5) -> None:
    crops = load_dataset(SAMPLE / "crops").items[:3]
    photos = load_dataset(SAMPLE / "photos").items[: count - len(crops)]
    rows = []
    for item in crops + photos:
        image = read_image(item.path)
        if item.box:
            x, y, w, h = item.box
            image = image[y : y + h, x : x + w]
        original = cv2.cvtColor(cv2.resize(image, (256, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        row = np.hstack(
            [
                original,
                np.full((64, GAP), 160, np.uint8),
                render_plate(item.plate),
                np.full((64, GAP), 160, np.uint8),
                binarize(image),
            ]
        )
        rows += [row, np.full((GAP, row.shape[1]), 160, np.uint8)]
    out = HERE / "render_vs_binarized.png"
    cv2.imwrite(str(out), np.vstack(rows[:-1]))
    print(out)


if __name__ == "__main__":
    main()
