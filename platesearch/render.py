"""Render plate text as the 'ideal' synthetic plate: 512x64, black characters on white.

Plates are composed from the per-character glyph images in `alphabet/glyphs/<font>/`
(regenerate them with `python alphabet/make_glyphs.py`). Each glyph keeps its natural
width, characters are separated by a gap proportional to their height, and the text line
is placed on the canvas by the same rule the binarizer applies to real crops.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from platesearch.canvas import place_text_line
from platesearch.config import glyphs_dir, plate_rules
from platesearch.plates import canonical_characters, check_plate_characters

DEFAULT_FONT = "OSP-DIN"
CHARACTER_GAP = 0.12  # gap between characters, as a fraction of the text height
INK = 128  # glyph pixels darker than this are ink


class FontNotFoundError(LookupError):
    """Raised for a font with no glyph folder in alphabet/glyphs/."""


def available_fonts() -> list[str]:
    """Names of the fonts whose glyphs exist (file stems of alphabet/fonts/*.ttf)."""
    glyphs = glyphs_dir()
    return sorted(p.name for p in glyphs.iterdir() if p.is_dir()) if glyphs.is_dir() else []


@cache
def _glyph_set(font: str) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Ink-column crops of every glyph of `font`, and the text band (rows) its characters span."""
    folder = glyphs_dir() / font
    if not folder.is_dir():
        raise FontNotFoundError(f"no glyphs for font {font!r} in {folder.parent}; available: {available_fonts()}")
    rules = plate_rules()
    glyphs: dict[str, np.ndarray] = {}
    top, bottom = None, None
    for char in rules.alphabet + rules.render_extra:
        path = folder / ("dash.png" if char == "-" else f"{char}.png")
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise FontNotFoundError(f"glyph {path} is missing or unreadable; run alphabet/make_glyphs.py")
        ink_rows = np.flatnonzero((image < INK).any(axis=1))
        ink_cols = np.flatnonzero((image < INK).any(axis=0))
        glyphs[char] = image[:, ink_cols[0] : ink_cols[-1] + 1]
        if char in rules.alphabet:
            top = ink_rows[0] if top is None else min(top, ink_rows[0])
            bottom = ink_rows[-1] if bottom is None else max(bottom, ink_rows[-1])
    return glyphs, (int(top), int(bottom) + 1)


def render_text_line(text: str, font: str = DEFAULT_FONT) -> np.ndarray:
    """The plate's characters side by side at glyph resolution, cropped to their ink rows.

    Rows are cropped to the ink of this text's letters and digits (as the binarizer crops a
    real plate to its character blobs), or to the font's band when it has none.
    """
    rules = plate_rules()
    plate = canonical_characters(text, keep=rules.render_extra)
    check_plate_characters(plate, rules.alphabet + rules.render_extra, original=text)
    glyphs, band = _glyph_set(font)
    gap = np.full((glyphs[plate[0]].shape[0], max(1, round(CHARACTER_GAP * (band[1] - band[0])))), 255, np.uint8)
    parts: list[np.ndarray] = []
    for i, char in enumerate(plate):
        if i:
            parts.append(gap)
        parts.append(glyphs[char])
    line = np.hstack(parts)
    text_glyphs = [glyphs[c] for c in plate if c in rules.alphabet]
    if text_glyphs:
        ink_rows = np.flatnonzero(np.vstack([(g < INK).any(axis=1) for g in text_glyphs]).any(axis=0))
        band = (int(ink_rows[0]), int(ink_rows[-1]) + 1)
    return line[band[0] : band[1]]


def render_plate(text: str, font: str = DEFAULT_FONT) -> np.ndarray:
    """Render `text` as a uint8 64x512 plate, text 0 on background 255. Deterministic.

    Lower case, Cyrillic look-alikes and separators are accepted (a dash is drawn);
    raises PlateTextError for anything else, FontNotFoundError for an unknown font.
    """
    return place_text_line(render_text_line(text, font))
