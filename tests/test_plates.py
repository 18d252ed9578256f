import pytest
from pydantic import ValidationError

from platesearch.config import plate_rules
from platesearch.plates import PlateTextError, matching_formats, normalize_plate


def test_normalize_separators_and_case():
    assert normalize_plate("aa 5149-ek") == "AA5149EK"
    assert normalize_plate(" ab.12_3\t") == "AB123"


@pytest.mark.parametrize("cyrillic", ["АВЕІКМНОРСТХ", "авеікмнорстх"])
def test_cyrillic_lookalikes_map_to_latin(cyrillic):
    assert normalize_plate(cyrillic) == "ABEIKMHOPCTX"


def test_mixed_ukrainian_plate():
    assert normalize_plate("АА 5149 ЕК") == "AA5149EK"


@pytest.mark.parametrize("text", ["", "  ", "- .", "\t"])
def test_empty_is_rejected(text):
    with pytest.raises(PlateTextError, match="empty"):
        normalize_plate(text)


@pytest.mark.parametrize("text,bad", [("AB!12", "!"), ("ÄB12", "Ä"), ("AБ12", "Б"), ("AB😀", "😀")])
def test_bad_character_is_named(text, bad):
    with pytest.raises(PlateTextError) as info:
        normalize_plate(text)
    assert repr(bad) in str(info.value)


def test_too_long_is_rejected():
    assert normalize_plate("A" * 12) == "A" * 12
    with pytest.raises(PlateTextError, match="13 characters"):
        normalize_plate("A" * 13)


@pytest.mark.parametrize(
    "plate,expected",
    [
        ("AA5149EK", {"ua", "generic"}),
        ("AYO9034", {"br", "generic"}),
        ("BRA2E19", {"mercosur", "generic"}),
        ("M5XSX", {"generic"}),
        ("ABCDEFGHI", set()),
    ],
)
def test_matching_formats(plate, expected):
    assert {f.id for f in matching_formats(plate)} == expected


def test_rules_are_data_and_frozen():
    rules = plate_rules()
    assert {f.id for f in rules.formats} >= {"ua", "br", "mercosur", "generic"}
    with pytest.raises(ValidationError):
        rules.max_length = 3  # type: ignore[misc]
