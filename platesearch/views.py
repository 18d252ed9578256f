"""A crop's vector is the mean embedding of the crop seen at several framings.

At a few pixels per character the binarizer's cut, and so the embedding, hangs on how a crop
is framed, as its reading does (localize.FRAMING_MARGINS): the same plate cut a little tighter
or wider often lands near its render where one cut did not, and the mean of the three views'
unit vectors often holds where one of them fails (experiments/embedding.py --views: held-out
top-1 of US crops at 60 px 0.908 -> 0.946, gains or ties on every visible set; RESULTS §0 and
§0b, "Three views per crop").

A photo's candidate is cut again from the photo (localize keeps its binarized framings); a crop
given as a file has no surroundings, so it is trimmed and padded instead.
"""

from __future__ import annotations

import cv2
import numpy as np

from platesearch.binarize import binarize

VIEWS = 3  # the crop as given, one tighter, one wider
TRIM = (0.04, 0.08)  # cut off each side: of the width, of the height
PAD = (0.06, 0.15)  # added on each side (edge pixels repeated): of the width, of the height


def crop_views(crop: np.ndarray, framed_plates: tuple[np.ndarray, ...] = ()) -> list[np.ndarray]:
    """A crop's VIEWS binarized plate images: a photo's candidate as cut and its `framed_plates`
    (localize's Candidate.framed_plates, cut again from the photo); a crop given on its own (no
    framings) as itself, trimmed and padded."""
    if framed_plates:
        return [binarize(crop), *framed_plates]
    h, w = crop.shape[:2]
    dx, dy = int(w * TRIM[0]), int(h * TRIM[1])
    trimmed = crop[dy : h - dy, dx : w - dx] if w - 2 * dx >= 2 and h - 2 * dy >= 2 else crop
    px, py = int(w * PAD[0]), int(h * PAD[1])
    padded = cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_REPLICATE)
    return [binarize(crop), binarize(trimmed), binarize(padded)]


def mean_of_views(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors [n * VIEWS, d], each crop's views together, as one unit vector per crop [n, d]."""
    means = vectors.reshape(-1, VIEWS, vectors.shape[-1]).mean(axis=1)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
