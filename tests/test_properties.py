"""Property-based tests: any text either normalizes/renders validly or raises the documented error."""

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from platesearch.plates import PlateTextError, normalize_plate
from platesearch.render import render_plate

PLATE = re.compile(r"^[A-Z0-9]{1,12}$")
plate_like = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -.АВЕІКМНОРСТХавеікмнорстх", max_size=16
)
anything = st.text(max_size=20)


@given(st.one_of(plate_like, anything))
def test_normalize_is_valid_or_raises(text):
    try:
        plate = normalize_plate(text)
    except PlateTextError as error:
        assert str(error)
        return
    assert PLATE.match(plate)
    assert normalize_plate(plate) == plate  # idempotent


@settings(max_examples=60, deadline=None)
@given(st.one_of(plate_like, anything))
def test_render_is_valid_or_raises(text):
    try:
        image = render_plate(text)
    except PlateTextError:
        return
    assert image.shape == (64, 512) and image.dtype == np.uint8
    assert (image == 0).any() and set(np.unique(image)) <= {0, 255}
