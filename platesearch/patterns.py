"""Partial plates: `?` is exactly one unknown character, `*` any run of them (possibly none).

`AB?12*` and `*7353*` are patterns; "the plate contains 7353" is `*7353*` (`--partial`). A
pattern is normalized like a plate text (case, separators, Cyrillic look-alikes) and then
matched against OCR readings with confusable characters allowed (O/0, B/8, ...). Nothing a
user types is ever a regular expression: every character other than `?` and `*` is literal.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

from platesearch.config import plate_rules
from platesearch.plates import PlateTextError, canonical_characters, check_plate_characters
from platesearch.textmatch import confusable_canonical, split_readings

ONE, ANY = "?", "*"
MAX_FILLS = 64  # up to this many concrete plates, each is rendered and embedded


def is_pattern(text: str) -> bool:
    return ONE in text or ANY in text


@dataclass(frozen=True)
class PlatePattern:
    """A normalized pattern such as AB?12*."""

    text: str

    @classmethod
    def parse(cls, text: str) -> PlatePattern:
        pattern = re.sub(r"\*+", ANY, canonical_characters(text, keep=ONE + ANY))
        fixed = pattern.replace(ONE, "").replace(ANY, "")
        if not fixed:
            raise PlateTextError(f"pattern {text!r} has no plate characters: give at least one")
        check_plate_characters(fixed, plate_rules().alphabet, original=text)
        if len(pattern.replace(ANY, "")) > plate_rules().max_length:
            raise PlateTextError(f"pattern {text!r} is longer than a plate ({plate_rules().max_length} characters)")
        return cls(pattern)

    @classmethod
    def containing(cls, text: str) -> PlatePattern:
        """The pattern of `--partial TEXT`: plates that contain TEXT."""
        return cls.parse(f"{ANY}{text}{ANY}")

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        parts = []
        for char in confusable_canonical(self.text):
            parts.append("(.)" if char == ONE else "(.*)" if char == ANY else re.escape(char))
        return re.compile("".join(parts))

    @property
    def fixed(self) -> str:
        """The characters the pattern names, in order (wildcards left out)."""
        return self.text.replace(ONE, "").replace(ANY, "")

    @property
    def longest_run(self) -> str:
        """The longest run of known characters (what a reading must hold somewhere)."""
        return max(self.text.replace(ONE, ANY).split(ANY), key=len)

    def match(self, stored_readings: str | None) -> str | None:
        """The first reading the pattern matches whole (confusables allowed), its wildcard
        parts in brackets (AB[X]12[QQ]); None if no reading matches."""
        for reading in split_readings(stored_readings):
            found = self._regex.fullmatch(confusable_canonical(reading))
            if found:
                shown, last = [], 0
                for group in range(1, (found.lastindex or 0) + 1):
                    start, end = found.span(group)
                    shown.append(reading[last:start] + (f"[{reading[start:end]}]" if end > start else ""))
                    last = end
                return "".join(shown) + reading[last:]
        return None

    def fills(self, limit: int = MAX_FILLS) -> list[str] | None:
        """Every concrete plate the pattern allows, if there are at most `limit` (None otherwise;
        a `*` allows unboundedly many)."""
        if ANY in self.text:
            return None
        unknown = self.text.count(ONE)
        alphabet = plate_rules().alphabet
        if len(alphabet) ** unknown > limit:
            return None
        fills = []
        for chars in itertools.product(alphabet, repeat=unknown):
            filled = iter(chars)
            fills.append("".join(next(filled) if c == ONE else c for c in self.text))
        return fills
