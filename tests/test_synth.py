"""Synthetic plates show every character their label names."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from platesearch.synth import _fonts, draw_text, text_width


@pytest.mark.parametrize("font_path", _fonts(), ids=lambda p: p.stem)
@pytest.mark.parametrize("spacing_share", [-0.02, 0.0, 0.15])
def test_text_width_is_where_the_drawn_ink_ends(font_path, spacing_share):
    font = ImageFont.truetype(str(font_path), 90)
    for shown in ("WM8-QW8Z", "AB 1234", "1J7"):
        top, bottom = font.getbbox(shown)[1::2]
        spacing = spacing_share * (bottom - top)
        canvas = Image.new("L", (1600, 200), 255)
        draw_text(ImageDraw.Draw(canvas), (40, 40), shown, font, spacing, 0)
        ink_columns = np.flatnonzero((np.asarray(canvas) < 128).any(axis=0))
        ink_end, width = ink_columns[-1] + 1, text_width(shown, font, spacing)
        assert 40 + width - 0.2 * (bottom - top) <= ink_end <= 40 + width + 1, (shown, ink_end, width)
