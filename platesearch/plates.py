"""Plate text rules: normalize what users type, and tell which known layouts a text fits."""

from __future__ import annotations

from platesearch.config import PlateFormat, plate_rules


class PlateTextError(ValueError):
    """Raised for text that cannot be a plate; the message names what is wrong."""


def canonical_characters(text: str, keep: str = "") -> str:
    """Upper-case `text`, map Cyrillic look-alikes to Latin and drop separators (except `keep`)."""
    rules = plate_rules()
    out: list[str] = []
    for char in text:
        if char in keep:
            out.append(char)
            continue
        if char in rules.separators or char.isspace():
            continue
        upper = char.upper()
        out.append(rules.cyrillic_lookalikes.get(upper, upper))
    return "".join(out)


def normalize_plate(text: str) -> str:
    """Return the canonical form of a plate text: `normalize_plate("aa 5149-ek") == "AA5149EK"`.

    Raises PlateTextError for empty text, text longer than the configured maximum, or any
    character outside the alphabet (the message names it).
    """
    rules = plate_rules()
    plate = canonical_characters(text)
    check_plate_characters(plate, rules.alphabet, original=text)
    return plate


def check_plate_characters(plate: str, allowed: str, original: str | None = None) -> None:
    """Raise PlateTextError unless `plate` is 1..max_length characters, all in `allowed`."""
    rules = plate_rules()
    shown = original if original is not None else plate
    if not plate:
        raise PlateTextError(f"plate text is empty: {shown!r}")
    for char in plate:
        if char not in allowed:
            raise PlateTextError(
                f"plate text {shown!r} has the character {char!r} (U+{ord(char):04X}); plates use only A-Z and 0-9"
            )
    if len(plate) > rules.max_length:
        raise PlateTextError(
            f"plate text {shown!r} has {len(plate)} characters; at most {rules.max_length} are allowed"
        )


def matching_formats(plate: str) -> list[PlateFormat]:
    """The known plate formats (from the config) that a normalized text matches."""
    return [fmt for fmt in plate_rules().formats if fmt.regex.match(plate)]
