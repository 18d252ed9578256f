"""Property-based tests: any text either normalizes/renders validly or raises the documented error."""

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from platesearch.plates import PlateTextError, normalize_plate
from platesearch.render import render_plate
from platesearch.store import CropIds

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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=2**62), max_size=50),
    st.lists(st.integers(min_value=0, max_value=2**62), max_size=50),
    st.lists(st.integers(min_value=0, max_value=2**62), max_size=20),
)
def test_crop_ids_answer_membership_as_a_set_does(stored, asked, discarded):
    crop_ids = CropIds(stored[:20])
    crop_ids.add(np.array(stored[20:], np.int64))  # larger ids appended, or any ids merged
    crop_ids.add(np.array([max(stored, default=0) + 1, max(stored, default=0) + 1], np.int64))
    stored = [*stored, max(stored, default=0) + 1]
    crop_ids.discard(set(discarded) & set(stored))
    expected = set(stored) - set(discarded)
    asked += stored[:5] + discarded[:5]
    assert crop_ids.among(np.array(asked, np.int64)).tolist() == [i in expected for i in asked]
    assert [i in crop_ids for i in asked] == [i in expected for i in asked]
    assert len(crop_ids) == len(expected)
