"""Matching a query against a crop's OCR readings: best reading, confusables, stray end characters."""

import numpy as np
import pytest

from platesearch.textmatch import (
    _canonical_all,
    best_reading,
    confusable_canonical,
    join_readings,
    split_readings,
    text_similarities,
)


def test_readings_are_stored_distinct_and_in_order():
    stored = join_readings(["TEXAS", "AB1234", "", "TEXAS", "TEXASAB1234"])
    assert split_readings(stored) == ["TEXAS", "AB1234", "TEXASAB1234"]
    assert join_readings([]) is None and split_readings(None) == []


def test_the_best_reading_decides():
    similarity, reading = best_reading("AB1234", "TEXAS AB1234 TEXASAB1234")
    assert similarity == pytest.approx(1.0) and reading == "AB1234"


@pytest.mark.parametrize(
    ("query", "misread", "other"),
    [("AB1234", "A81234", "AX1234"), ("AB1254", "AB12S4", "AB12X4"), ("OB1234", "0B1234", "KB1234")],
)
def test_confusable_characters_cost_less_than_other_substitutions(query, misread, other):
    assert best_reading(query, misread)[0] > best_reading(query, other)[0]
    assert best_reading(query, other)[0] == pytest.approx(1 - 1 / 6)


def test_confusables_are_symmetric_and_grouped():
    assert best_reading("D0Q", "0OD")[0] == best_reading("0OD", "D0Q")[0] > 0.6


def test_a_stray_character_at_an_end_costs_little():
    exact, with_stray, with_inner_extra = (best_reading("A88731", r)[0] for r in ("A88731", "JA88731", "A887031"))
    assert exact > with_stray > with_inner_extra


def test_no_reading_scores_zero():
    assert best_reading("AB1234", None) == (0.0, None)


def test_vectorized_scores_equal_one_by_one():
    stored = ["A81234 X", None, "ZZZ", "TEXAS AB1234", "AB123", "X A81234", "ZZZ"]  # readings repeat: scored once
    expected = [best_reading("AB1234", s)[0] for s in stored]
    assert np.allclose(text_similarities("AB1234", stored), expected)


@pytest.mark.parametrize("texts", [["AB1234", "O0I1", ""], ["ÖB8", "S5Z2"], ["G6\nD0", "B8"]])
def test_readings_are_made_canonical_together_as_one_by_one(texts):
    assert _canonical_all(texts) == [confusable_canonical(text) for text in texts]  # beyond ASCII, or a newline
