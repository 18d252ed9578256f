"""Turn a plate crop into the 512x64 black-on-white image the model reads.

The study's chain (grayscale, bilateral filter, Otsu threshold, resize) plus what real
crops need: the polarity is decided from the characters themselves (a dark car body in
the margin must not flip a dark-on-light plate), the crop is trimmed to the line of
characters so they fill the height like a render, and a mild skew is straightened.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from platesearch.canvas import place_text_line
from platesearch.config import CANVAS_HEIGHT, CANVAS_WIDTH

WORK_HEIGHT = 128  # crops are resized to this height first, so blob rules work at any size
MAX_DESKEW_DEGREES = 20.0
MIN_DESKEW_DEGREES = 1.0
# Low-contrast, blurred or unevenly lit crops (infrared camera crops, dark US crops) defeat one
# global Otsu threshold: it separates the plate from its surroundings instead of the text from
# the plate, and the trim to the character line then cuts most characters away. When Otsu finds
# fewer than FALLBACK_BELOW character blobs, a local mean threshold (block and offset in
# working-height pixels) is tried in both polarities and kept if it finds more. Chosen on the
# share of crops whose blob count equals the plate's length (experiments/RESULTS.md, issue #13).
FALLBACK_BELOW = 6
LOCAL_BLOCK = 25
LOCAL_OFFSET = 7
# A state emblem or logo at either end of a US plate's line of characters (a loon, a clover,
# a crest) is character-sized but square; plate characters are of about equal width (only 1
# and I narrower), so an end blob this many times wider than the line's median is dropped.
# binarize-v3: US crops whose blob count is the plate's length 0.735 -> 0.761 (plates of at
# most 5 characters 0.442 -> 0.558); experiments/RESULTS.md §0b, "Emblems are not characters".
EMBLEM_WIDTH = 1.6
# A character at an end of the line that touches print above or below it (a state name, a
# slogan, a sticker) is one blob with that print and no character, so the trim cut it off
# (KAA20C binarized as AA20C). Cut to the line's band of rows it is a character again: a piece
# of the band at least MERGED_MIN_HEIGHT of the line's median height and MERGED_MIN_WIDTH of its
# median width (narrower pieces are frame bars), within MERGED_REACH character pitches of the
# line's end, joins the line, unless its whole blob is as tall as the crop or touches its sides
# (a plate frame). binarize-v4: US crops whose blob count is the plate's length 0.761 -> 0.787,
# BR camera crops 0.664 -> 0.662; experiments/RESULTS.md §0b, "Characters touching print".
MERGED_MIN_HEIGHT = 0.8
MERGED_MIN_WIDTH = 0.7
MERGED_REACH = 1.3
FRAME_HEIGHT = 0.9  # of the crop: a blob this tall is a frame, not print beside a character


@dataclass(frozen=True)
class Blob:
    """A connected component's bounding box and ink area, in working-image pixels."""

    x: int
    y: int
    w: int
    h: int
    area: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale from a grayscale, BGR or BGRA uint8 image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise ValueError(f"expected a grayscale, BGR or BGRA image, got shape {image.shape}")


def _blobs(mask: np.ndarray) -> list[Blob]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [Blob(*(int(v) for v in stats[i])) for i in range(1, count)]


def remove_frame_lines(mask: np.ndarray) -> np.ndarray:
    """Erase long horizontal and vertical runs (plate frame, crop edges) from a text mask.

    Characters that touch the plate's frame merge with it into one blob that is no longer
    character-shaped; no character stroke is a third of the plate wide or as tall as the
    whole crop, so such runs can go.
    """
    h, w = mask.shape
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, w // 3), 1)))
    vertical = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(h * 0.9))))
    )
    return cv2.subtract(mask, cv2.bitwise_or(horizontal, vertical))


def _character_fill(b: Blob) -> bool:
    """Neither a hairline nor a solid block: the share of its box a character's ink covers."""
    return 0.12 <= b.area / (b.w * b.h) <= 0.95


def character_blobs(mask: np.ndarray) -> list[Blob]:
    """The largest set of character-like blobs of similar height on one line, left to right.

    `mask` is 255 where the candidate text colour is. A character is taller than a quarter
    of the crop, not as tall as the whole crop, at most about as wide as it is tall, and
    neither a hairline nor a solid block.
    """
    height = mask.shape[0]
    shaped = [
        b
        for b in _blobs(mask)
        if 0.25 * height <= b.h <= 0.95 * height and 0.08 * b.h <= b.w <= 1.3 * b.h and _character_fill(b)
    ]
    best: list[Blob] = []
    for ref in shaped:
        line = [b for b in shaped if abs(b.h - ref.h) <= 0.25 * ref.h and abs(b.cy - ref.cy) <= 0.3 * ref.h]
        if (len(line), sum(b.area for b in line)) > (len(best), sum(b.area for b in best)):
            best = line
    return _without_end_emblems(sorted(best, key=lambda b: b.x))


def _without_end_emblems(line: list[Blob]) -> list[Blob]:
    """`line` less the blobs at its ends that are EMBLEM_WIDTH times wider than its median."""
    while len(line) >= 3:
        widest = EMBLEM_WIDTH * float(np.median([b.w for b in line]))
        if line[0].w > widest and line[0].w >= line[-1].w:
            line = line[1:]
        elif line[-1].w > widest:
            line = line[:-1]
        else:
            break
    return line


def _with_merged_ends(mask: np.ndarray, line: list[Blob]) -> list[Blob]:
    """`line` grown at its ends by the character-shaped pieces of its band of rows, which are
    characters merged with print above or below (MERGED_* above)."""
    if len(line) < 3:
        return line
    median_h = float(np.median([b.h for b in line]))
    median_w = float(np.median([b.w for b in line]))
    pitch = float(np.median([b.cx - a.cx for a, b in pairwise(line)]))
    top, bottom = min(b.y for b in line), max(b.y + b.h for b in line)
    count, band_labels, band_stats, _ = cv2.connectedComponentsWithStats(mask[top:bottom], connectivity=8)
    shaped = [
        i
        for i in range(1, count)
        if band_stats[i][3] >= MERGED_MIN_HEIGHT * median_h
        and MERGED_MIN_WIDTH * median_w <= band_stats[i][2] <= 1.3 * median_h
        and _character_fill(Blob(*(int(v) for v in band_stats[i])))
    ]
    if not shaped:  # the usual case: no whole-mask labelling needed
        return line
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    crop_h, crop_w = mask.shape
    pieces = []
    for i in shaped:
        x, y, w, h, area = (int(v) for v in band_stats[i])
        row, col = np.unravel_index(np.argmax(band_labels == i), band_labels.shape)
        whole_x, _, whole_w, whole_h, _ = stats[labels[top + row, col]]  # the blob the piece was cut from
        if whole_h < FRAME_HEIGHT * crop_h and whole_x > 0 and whole_x + whole_w < crop_w:
            pieces.append(Blob(x, y + top, w, h, area))
    line = list(line)
    while True:
        first, last = line[0], line[-1]
        left = [p for p in pieces if p.x + p.w <= first.x + 1 and first.cx - p.cx <= MERGED_REACH * pitch]
        right = [p for p in pieces if p.x >= last.x + last.w - 1 and p.cx - last.cx <= MERGED_REACH * pitch]
        if not left and not right:
            return line
        if left:
            line.insert(0, max(left, key=lambda p: p.cx))
        if right:
            line.append(min(right, key=lambda p: p.cx))
        pieces = [p for p in pieces if p not in line]


def _skew_degrees(blobs: list[Blob]) -> float:
    """Angle of the line through the characters' centres (0 when it cannot be told)."""
    if len(blobs) < 3:
        return 0.0
    slope = np.polyfit([b.cx for b in blobs], [b.cy for b in blobs], 1)[0]
    return float(np.degrees(np.arctan(slope)))


def _rotate(mask: np.ndarray, degrees: float) -> np.ndarray:
    h, w = mask.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)


def text_mask(crop: np.ndarray) -> tuple[np.ndarray, list[Blob]]:
    """Foreground (text) mask of a crop at working height, deskewed, with its character blobs."""
    gray = to_gray(crop)
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        raise ValueError(f"crop too small to binarize: {gray.shape[1]}x{gray.shape[0]}")
    scale = WORK_HEIGHT / gray.shape[0]
    gray = cv2.resize(gray, (max(2, round(gray.shape[1] * scale)), WORK_HEIGHT), interpolation=cv2.INTER_CUBIC)
    smooth = cv2.bilateralFilter(gray, d=7, sigmaColor=40, sigmaSpace=7)
    _, dark = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    light = 255 - dark
    dark_blobs, light_blobs = character_blobs(dark), character_blobs(light)
    # Polarity from the characters: the colour that forms more character-like blobs is the
    # text colour; on a tie dark text wins (most plates are dark on light).
    mask, blobs = (light, light_blobs) if len(light_blobs) > len(dark_blobs) else (dark, dark_blobs)
    unframed = remove_frame_lines(mask)
    unframed_blobs = character_blobs(unframed)
    if len(unframed_blobs) > len(blobs):
        mask, blobs = unframed, unframed_blobs
    if len(blobs) < FALLBACK_BELOW:
        mask, blobs = _local_threshold(smooth, mask, blobs)
    angle = _skew_degrees(blobs)
    if MIN_DESKEW_DEGREES <= abs(angle) <= MAX_DESKEW_DEGREES:
        rotated = _rotate(mask, angle)
        rotated_blobs = character_blobs(rotated)
        if len(rotated_blobs) >= len(blobs):
            mask, blobs = rotated, rotated_blobs
    return mask, _without_end_emblems(_with_merged_ends(mask, blobs))


def _local_threshold(smooth: np.ndarray, mask: np.ndarray, blobs: list[Blob]) -> tuple[np.ndarray, list[Blob]]:
    """The local-threshold mask (dark text, then light text) with more character blobs, if any."""
    for polarity, offset in ((cv2.THRESH_BINARY_INV, LOCAL_OFFSET), (cv2.THRESH_BINARY, -LOCAL_OFFSET)):
        local = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, LOCAL_BLOCK, offset)
        local_blobs = character_blobs(local)
        if len(local_blobs) > len(blobs):
            mask, blobs = local, local_blobs
    return mask, blobs


def binarize(crop: np.ndarray) -> np.ndarray:
    """A plate crop (grayscale/BGR/BGRA uint8) as uint8 64x512: text 0 on background 255."""
    mask, blobs = text_mask(crop)
    if blobs:
        x0 = min(b.x for b in blobs)
        y0 = min(b.y for b in blobs)
        x1 = max(b.x + b.w for b in blobs)
        y1 = max(b.y + b.h for b in blobs)
        mask = mask[y0:y1, x0:x1]
    if not mask.any():
        return np.full((CANVAS_HEIGHT, CANVAS_WIDTH), 255, dtype=np.uint8)
    return place_text_line(255 - mask)
