import numpy as np
import pytest

from platesearch.config import plate_rules
from platesearch.plates import PlateTextError
from platesearch.render import FontNotFoundError, available_fonts, render_plate

DARK = 128


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((image < DARK).any(axis=1))
    cols = np.flatnonzero((image < DARK).any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def first_glyph_width(image: np.ndarray) -> int:
    cols = (image < DARK).any(axis=0)
    start = int(np.argmax(cols))
    return int(np.argmin(cols[start:]))


def test_shape_dtype_and_binary_values():
    image = render_plate("AA5149EK")
    assert image.shape == (64, 512) and image.dtype == np.uint8
    assert set(np.unique(image)) <= {0, 255}
    assert 0.05 < (image == 0).mean() < 0.5  # text is the dark minority


def test_deterministic():
    assert np.array_equal(render_plate("AA5149EK"), render_plate("AA5149EK"))


def test_normalizes_like_queries():
    assert np.array_equal(render_plate("aa 5149 ек"), render_plate("AA5149EK"))


def test_every_character_renders_distinctly():
    rules = plate_rules()
    images = {c: render_plate(c * 3) for c in rules.alphabet + rules.render_extra}
    for char, image in images.items():
        assert (image == 0).any(), char
    flat = {image.tobytes() for image in images.values()}
    assert len(flat) == len(images)


@pytest.mark.parametrize("length", range(1, 13))
def test_any_length_fits_the_canvas(length):
    image = render_plate("W" * length)
    top, bottom, left, right = ink_box(image)
    assert left >= 1 and right <= 511 and top >= 1 and bottom <= 63


def test_long_text_is_scaled_down_to_width():
    top, bottom, left, right = ink_box(render_plate("WWWWWWWWWWWW"))
    assert right - left > 480
    assert bottom - top < 52  # shrunk below full text height to fit


def test_short_text_keeps_glyph_proportions_and_is_centred():
    short, long = render_plate("AB1"), render_plate("AB12345")
    s_top, s_bottom, s_left, s_right = ink_box(short)
    l_top, l_bottom, l_left, l_right = ink_box(long)
    assert s_bottom - s_top == l_bottom - l_top  # same text height whatever the length
    # the first character has the same size in both: short plates are not stretched
    assert abs(first_glyph_width(short) - first_glyph_width(long)) <= 1
    assert abs((s_left + s_right) / 2 - 256) <= 2 and abs((l_left + l_right) / 2 - 256) <= 2
    assert s_right - s_left < 0.5 * (l_right - l_left)


def test_glyph_widths_differ_like_the_font():
    narrow, wide = render_plate("111"), render_plate("WWW")
    assert ink_box(narrow)[3] - ink_box(narrow)[2] < 0.6 * (ink_box(wide)[3] - ink_box(wide)[2])


def test_other_fonts_are_selectable():
    fonts = available_fonts()
    assert "OSP-DIN" in fonts and len(fonts) >= 2
    other = next(f for f in fonts if f != "OSP-DIN")
    assert not np.array_equal(render_plate("GHR7082", font=other), render_plate("GHR7082"))


def test_errors():
    with pytest.raises(PlateTextError):
        render_plate("")
    with pytest.raises(PlateTextError):
        render_plate("AB#1")
    with pytest.raises(FontNotFoundError, match="available"):
        render_plate("AB1", font="Comic")
