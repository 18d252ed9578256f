"""Synthetic plate photos for training volume (the deep-anpr approach), binarized like real crops.

Each sample is a random plate text drawn in a random font and size on a plate of random
colours, with border, bolts and small region text, put on a background, warped in
perspective, rotated, blurred, noised and JPEG-compressed, then cropped around the plate
with a random margin: the kind of crop the localizer hands the binarizer.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from platesearch.config import alphabet_dir

LETTERS, DIGITS = string.ascii_uppercase, string.digits
# One symbol a character: L a letter, D a digit, X either. The default mix of the shipped recipe:
# lengths 5 to 8; a config's `synthetic_layouts` replaces it.
LAYOUT_POOLS = {"L": LETTERS, "D": DIGITS, "X": LETTERS + DIGITS}
LAYOUTS = (
    "LLDDDDLL",
    "LLLDDDD",
    "LLLDLDD",
    "DLLLDDD",
    "LLDDDD",
    "DDDLLL",
    "LLLDDD",
    "XXXXXXX",
    "XXXXXX",
    "XXXXX",
    "LDDDDD",
    "XXXXXXXX",
)


@cache
def _fonts() -> tuple[Path, ...]:
    return tuple(sorted((alphabet_dir() / "fonts").glob("*.ttf")))


def random_plate_text(rng: np.random.Generator, layouts: tuple[str, ...] = LAYOUTS) -> str:
    """A text of a layout drawn uniformly from `layouts`."""
    layout = layouts[rng.integers(len(layouts))]
    return "".join(LAYOUT_POOLS[c][rng.integers(len(LAYOUT_POOLS[c]))] for c in layout)


def _display_text(text: str, rng: np.random.Generator) -> str:
    """How a plate shows its text: sometimes with a space or dash between groups."""
    if len(text) >= 5 and rng.random() < 0.4:
        cut = int(rng.integers(2, len(text) - 1))
        return text[:cut] + (" " if rng.random() < 0.6 else "-") + text[cut:]
    return text


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Plate and text colours with enough contrast; one plate in five is light text on dark."""
    light = tuple(int(v) for v in rng.integers(150, 256, 3))
    dark = tuple(int(v) for v in rng.integers(0, 90, 3))
    return (dark, light) if rng.random() < 0.2 else (light, dark)


def draw_text(
    draw: ImageDraw.ImageDraw, origin: tuple[int, int], shown: str, font: ImageFont.FreeTypeFont, spacing: float, fill
) -> None:
    """`shown` from `origin` (the top left of its bounding box), one character at a time, `spacing`
    pixels apart."""
    left, top = font.getbbox(shown)[:2]
    x = origin[0]
    for char in shown:
        draw.text((x - left, origin[1] - top), char, font=font, fill=fill)
        x += font.getlength(char) + spacing


def text_width(shown: str, font: ImageFont.FreeTypeFont, spacing: float) -> float:
    """How far right of its origin `draw_text` inks `shown`: up to its last character's ink."""
    before_last = sum(font.getlength(char) + spacing for char in shown[:-1])
    return before_last + font.getbbox(shown[-1])[2] - font.getbbox(shown)[0]


def synthetic_plate_photo(text: str, rng: np.random.Generator) -> np.ndarray:
    """A BGR crop around a synthetic plate showing `text`."""
    font = ImageFont.truetype(str(_fonts()[rng.integers(len(_fonts()))]), int(rng.integers(60, 110)))
    shown = _display_text(text, rng)
    plate_colour, text_colour = _colours(rng)
    left, top, right, bottom = font.getbbox(shown)
    pad_x, pad_y = int(rng.integers(10, 50)), int(rng.integers(12, 40))
    spacing = rng.uniform(-0.02, 0.15) * (bottom - top)
    # As wide as the text is drawn, spacing included: with the text's own width, the last
    # character ran off the plate on a third of plates and was cut in half on one in twelve,
    # while the label still named it.
    width = int(np.ceil(max(right - left, text_width(shown, font, spacing)))) + 2 * pad_x
    height = bottom - top + 2 * pad_y
    plate = Image.new("RGB", (width, height), plate_colour)
    draw = ImageDraw.Draw(plate)
    draw_text(draw, (pad_x, pad_y), shown, font, spacing, text_colour)
    if rng.random() < 0.7:
        inset = int(rng.integers(2, 8))
        draw.rectangle(
            [inset, inset, width - inset, height - inset], outline=text_colour, width=int(rng.integers(1, 5))
        )
    if rng.random() < 0.4:
        for bx in (width * 0.2, width * 0.8):
            r = int(rng.integers(3, 7))
            draw.ellipse([bx - r, pad_y / 3 - r, bx + r, pad_y / 3 + r], fill=tuple(int(c * 0.7) for c in plate_colour))
    if rng.random() < 0.4:
        small = ImageFont.truetype(str(_fonts()[0]), max(8, pad_y // 2))
        region = "".join(LETTERS[i] for i in rng.integers(0, 26, int(rng.integers(4, 11))))
        y = 1 if rng.random() < 0.5 else height - pad_y // 2 - 2
        draw.text((width / 2 - small.getlength(region) / 2, y), region, font=small, fill=text_colour)
    return _photograph(np.asarray(plate)[:, :, ::-1], rng)


def _photograph(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put the plate on a background, warp, blur, noise and compress it, and crop around it."""
    h, w = plate.shape[:2]
    canvas_h, canvas_w = int(h * 2), int(w * 1.6)
    background = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    canvas = cv2.resize(background, (canvas_w, canvas_h), interpolation=cv2.INTER_CUBIC)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-0.06, 0.06, (4, 2)) * [w, h]
    angle = np.radians(rng.uniform(-6, 6))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centred = (src - [w / 2, h / 2] + jitter) @ rotation.T + [canvas_w / 2, canvas_h / 2]
    matrix = cv2.getPerspectiveTransform(src, np.float32(centred))
    warped = cv2.warpPerspective(plate, matrix, (canvas_w, canvas_h))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (canvas_w, canvas_h))
    canvas[mask > 0] = warped[mask > 0]
    shade = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), canvas_w)[None, :, None]
    image = canvas.astype(np.float32) * shade
    sigma = rng.uniform(0, 2.0)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image += rng.normal(0, rng.uniform(0, 12), image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    scale = rng.uniform(0.25, 1.0)
    image = cv2.resize(
        image, (max(8, int(canvas_w * scale)), max(8, int(canvas_h * scale))), interpolation=cv2.INTER_AREA
    )
    _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 95))])
    image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    xs, ys = centred[:, 0] * scale, centred[:, 1] * scale
    margin_x, margin_y = rng.uniform(0, 0.12) * (xs.max() - xs.min()), rng.uniform(0, 0.2) * (ys.max() - ys.min())
    x0, x1 = int(max(0, xs.min() - margin_x)), int(min(image.shape[1], xs.max() + margin_x))
    y0, y1 = int(max(0, ys.min() - margin_y)), int(min(image.shape[0], ys.max() + margin_y))
    return image[y0:y1, x0:x1]
