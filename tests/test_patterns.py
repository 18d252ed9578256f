"""Partial plates: `?` one character, `*` any run, every other character literal, confusables allowed."""

import pytest

from platesearch.patterns import MAX_FILLS, PlatePattern, is_pattern
from platesearch.plates import PlateTextError


def test_question_mark_is_exactly_one_character():
    pattern = PlatePattern.parse("ab?12")
    assert pattern.text == "AB?12"
    assert pattern.match("ABX12") == "AB[X]12"
    assert pattern.match("AB12") is None and pattern.match("ABXY12") is None


def test_star_is_any_run_even_empty():
    pattern = PlatePattern.parse("*7353*")
    assert pattern.match("AB7353CD") == "[AB]7353[CD]"
    assert pattern.match("7353") == "7353"
    assert pattern.match("AB735CD") is None
    assert PlatePattern.containing("7353") == pattern


def test_the_first_matching_reading_of_several_is_shown():
    assert PlatePattern.parse("AB?12*").match("STATE ABC12Q") == "AB[C]12[Q]"


def test_confusable_characters_match():
    assert PlatePattern.parse("AB?12*").match("A8X12") == "A8[X]12"  # B read as 8
    assert PlatePattern.parse("*0O1*").match("XO0IY") == "[X]O0I[Y]"


def test_nothing_is_a_regular_expression():
    pattern = PlatePattern.parse("a.b-1 2")  # separators are dropped, as in plate text
    assert pattern.text == "AB12" and not is_pattern(pattern.text)
    with pytest.raises(PlateTextError):
        PlatePattern.parse("AB[1]2*")
    with pytest.raises(PlateTextError):
        PlatePattern.parse("AB(1|2)?")


@pytest.mark.parametrize("text", ["*", "??", "*?*", ""])
def test_a_pattern_needs_a_known_character(text):
    with pytest.raises(PlateTextError):
        PlatePattern.parse(text)


def test_a_pattern_longer_than_a_plate_is_refused():
    with pytest.raises(PlateTextError, match="longer than a plate"):
        PlatePattern.parse("ABCDEFGHIJKL?")


def test_fills_only_when_few():
    fills = PlatePattern.parse("AB?12").fills()
    assert fills is not None and len(fills) == 36 <= MAX_FILLS and "ABZ12" in fills
    assert PlatePattern.parse("AB??12").fills() is None
    assert PlatePattern.parse("AB*").fills() is None


def test_runs_of_stars_collapse():
    assert PlatePattern.parse("**AB***").text == "*AB*"
