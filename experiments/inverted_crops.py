"""Each labelled plate cut from its photo at the crop margin (a crop file: as it is) and read by
the fine-tuned recognizer (smeared_text.py): lit, in colour contrast and inverted. Counts the
plates each cut reads exactly, and how many more the inverted cut reads than the other two
together: the question behind reading every photo candidate's crop inverted too
(localize._read_by_fine_tuned_recognizer; RESULTS.md §0, "The crop read inverted").

No index is built and nothing is tuned. A plate counts as light-on-dark when binarize.text_mask
takes its text as the light colour (the polarity whose blobs look more like characters).

Run: .venv/bin/python experiments/inverted_crops.py --out experiments/inverted_crops.json SET...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from photos import SETS

from platesearch.binarize import text_mask, to_gray
from platesearch.datasets import load_dataset
from platesearch.localize import CROP_MARGIN, colour_contrast, lit, rectify
from platesearch.media import ImageReadError, read_image
from platesearch.smeared_text import smeared_text_reader


def light_on_dark(crop: np.ndarray) -> bool:
    """Whether binarize takes the crop's text as light: its text mask brighter than the rest."""
    mask, _ = text_mask(crop)
    gray = to_gray(crop)
    text = cv2.resize(mask, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    return bool(text.any() and (~text).any() and gray[text].mean() > gray[~text].mean())


def plate_cuts(folder: Path) -> tuple[list[str], list[np.ndarray], int]:
    """Every labelled plate's text and its cut (the box at CROP_MARGIN, or a crop file whole),
    and how many images could not be read (skipped, as `index` skips them)."""
    plates, cuts, unreadable = [], [], 0
    for item in load_dataset(folder).items:
        try:
            image = read_image(item.path)
        except ImageReadError:
            unreadable += 1
            continue
        if item.box is not None:
            x, y, w, h = item.box
            image = rectify(image, np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]), CROP_MARGIN)
        plates.append(item.plate)
        cuts.append(image)
    return plates, cuts, unreadable


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", choices=list(SETS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    reader = smeared_text_reader()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.sets:
        plates, cuts, unreadable = plate_cuts(SETS[name][0])
        lit_cuts = [lit(c) for c in cuts]
        read = {
            "lit": reader.read(lit_cuts),
            "colour_contrast": reader.read([colour_contrast(c) for c in cuts]),
            "inverted": reader.read([255 - c for c in lit_cuts]),
        }
        light = [light_on_dark(c) for c in lit_cuts]
        exact = {view: [r == p for r, p in zip(reads, plates, strict=True)] for view, reads in read.items()}
        only_inverted = [
            i and not (a or b)
            for i, a, b in zip(exact["inverted"], exact["lit"], exact["colour_contrast"], strict=True)
        ]
        results[name] = {
            "plates": len(plates),
            "unreadable_images": unreadable,
            "light_on_dark": sum(light),
            "exact": {view: sum(hits) for view, hits in exact.items()},
            "exact_light_on_dark": {
                view: sum(h and d for h, d in zip(hits, light, strict=True)) for view, hits in exact.items()
            },
            "only_inverted": sum(only_inverted),
            "only_inverted_light_on_dark": sum(o and d for o, d in zip(only_inverted, light, strict=True)),
            "only_inverted_plates": [p for p, o in zip(plates, only_inverted, strict=True) if o],
        }
        print(name, {k: v for k, v in results[name].items() if k != "only_inverted_plates"}, flush=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
