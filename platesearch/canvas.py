"""The one geometry convention shared by rendered and binarized plates.

A text line (black on white, cropped tightly to its characters) is scaled, keeping its
aspect ratio, to a fixed text height, shrunk further if it is too wide, and centred on
the 512x64 canvas. Renders and real crops both pass through `place_text_line`, so a
plate's characters land at the same height and scale whichever way they were made.
"""

from __future__ import annotations

import cv2
import numpy as np

from platesearch.config import CANVAS_HEIGHT, CANVAS_WIDTH

TEXT_HEIGHT = 52  # pixels of the 64-pixel canvas the characters fill
MIN_SIDE_MARGIN = 8  # pixels kept white left and right of the longest plates


def place_text_line(line: np.ndarray) -> np.ndarray:
    """Scale a tightly cropped uint8 text line (dark text on white) onto the 64x512 canvas."""
    if line.ndim != 2 or line.size == 0:
        raise ValueError(f"expected a non-empty 2-D text line, got shape {line.shape}")
    height, width = line.shape
    scale = min(TEXT_HEIGHT / height, (CANVAS_WIDTH - 2 * MIN_SIDE_MARGIN) / width)
    new_w = max(1, round(width * scale))
    new_h = max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(line, (new_w, new_h), interpolation=interpolation)
    resized = np.where(resized < 128, 0, 255).astype(np.uint8)
    canvas = np.full((CANVAS_HEIGHT, CANVAS_WIDTH), 255, dtype=np.uint8)
    top = (CANVAS_HEIGHT - new_h) // 2
    left = (CANVAS_WIDTH - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas
