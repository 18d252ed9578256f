"""OCR-text similarity: how close a plate query is to what OCR read in a crop, 0..1.

A crop carries several readings (each text line EasyOCR found in it, and their
concatenation), stored as one space-separated string; a query scores its best reading.
Characters OCR confuses (O/0, I/1, B/8, ...: `ocr_confusables` in plates.yaml) cost
`confusable_cost` instead of a full substitution.
"""

from __future__ import annotations

from functools import cache
from itertools import chain

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from platesearch.config import plate_rules

READING_SEPARATOR = " "
STRAY_END_COST = 0.25  # dropping one stray character at an end of a longer reading (chosen with the weight)


def join_readings(readings: list[str]) -> str | None:
    """The stored form of a crop's readings (distinct, non-empty, in order); None for none."""
    distinct = [r for r in dict.fromkeys(readings) if r]
    return READING_SEPARATOR.join(distinct) or None


def split_readings(stored: str | None) -> list[str]:
    return stored.split(READING_SEPARATOR) if stored else []


@cache
def _confusable_table() -> dict[int, str]:
    """Each confusable character to its group's first character."""
    return {ord(c): group[0] for group in plate_rules().ocr_confusables for c in group}


def confusable_canonical(text: str) -> str:
    """`text` with every confusable character replaced by its group's representative."""
    return text.translate(_confusable_table())


@cache
def _ascii_confusable_table() -> bytes | None:
    """_confusable_table for bytes.translate, None if it holds a character beyond ASCII."""
    table = _confusable_table()
    sources, targets = "".join(map(chr, table)), "".join(table.values())
    if not (sources + targets).isascii():
        return None
    return bytes.maketrans(sources.encode(), targets.encode())


def _canonical_all(texts: list[str]) -> list[str]:
    """confusable_canonical of each text, in one translation of their ASCII bytes where it can
    (a query over a large index translates thousands: ten times faster than one by one)."""
    table, joined = _ascii_confusable_table(), "\n".join(texts)
    if table is not None and joined.isascii():
        canonical = joined.encode().translate(table).decode().split("\n")
        if len(canonical) == len(texts):  # no text held the separator
            return canonical
    return [confusable_canonical(text) for text in texts]


def _similarities(query: str, readings: list[str]) -> np.ndarray:
    """Similarity of the query to each single reading: 1 - weighted edit distance / longer length.

    Distance on confusable-canonical strings counts only the real errors; the difference to
    the plain distance counts the confusable substitutions, each charged `confusable_cost`.
    A reading longer than the query is also matched without its first and/or last character
    (a frame, a country band or a province character read into the plate), each dropped
    character charged `STRAY_END_COST`. Built list by list, not reading by reading: a query
    over a large index scores thousands of readings.
    """
    distinct = dict.fromkeys(readings)  # crops hold the same readings (a plate seen often, a state's name)
    if len(distinct) == len(readings):
        return _distinct_similarities(query, readings)
    position = dict(zip(distinct, range(len(distinct)), strict=True))
    return _distinct_similarities(query, list(distinct))[list(map(position.__getitem__, readings))]


def _distinct_similarities(query: str, readings: list[str]) -> np.ndarray:
    if not readings:
        return np.zeros(0, np.float32)
    canonical = _canonical_all(readings)
    lengths = np.fromiter(map(len, readings), np.int64, len(readings))
    one = np.flatnonzero(lengths > len(query)).tolist()  # one stray character can go
    two = np.flatnonzero(lengths > len(query) + 1).tolist()  # one at each end can go
    plain, canonical = (
        texts + [texts[i][1:] for i in one] + [texts[i][:-1] for i in one] + [texts[i][1:-1] for i in two]
        for texts in (readings, canonical)
    )
    owners = np.concatenate([np.arange(len(readings)), one, one, two]).astype(np.int64)
    dropped = np.repeat(np.float32([0, 1, 1, 2]), [len(readings), len(one), len(one), len(two)])
    variant_lengths = lengths[owners].astype(np.float32) - dropped
    similarity = _plain_or_confusable(query, plain, canonical, variant_lengths, np.float32(STRAY_END_COST) * dropped)
    best = np.zeros(len(readings), np.float32)
    np.maximum.at(best, owners, similarity)
    return best


def _plain_or_confusable(
    query: str, readings: list[str], canonical: list[str], lengths: np.ndarray, charges: np.ndarray
) -> np.ndarray:
    plain = cdist([query], readings, scorer=Levenshtein.distance, dtype=np.float32)[0]
    query_canonical = confusable_canonical(query)
    canonical_distance = cdist([query_canonical], canonical, scorer=Levenshtein.distance, dtype=np.float32)[0]
    cost = canonical_distance + plate_rules().confusable_cost * (plain - canonical_distance) + charges
    longer = np.maximum(len(query), lengths)
    return np.clip(1.0 - cost / np.maximum(longer, 1.0), 0.0, 1.0)


def best_reading(query: str, stored: str | None) -> tuple[float, str | None]:
    """The best similarity of the query to a crop's readings, and that reading (0, None for none)."""
    readings = split_readings(stored)
    if not readings:
        return 0.0, None
    similarity = _similarities(query, readings)
    best = int(np.argmax(similarity))
    return float(similarity[best]), readings[best]


def flatten_readings(stored: list[str | None]) -> tuple[np.ndarray, list[str]]:
    """Every reading of many crops' stored readings, with the index of the crop it belongs to."""
    parts = [split_readings(text) for text in stored]
    owners = np.repeat(np.arange(len(stored)), np.fromiter(map(len, parts), np.int64, len(parts)))
    return owners, list(chain.from_iterable(parts))


def text_similarities(query: str, stored: list[str | None]) -> np.ndarray:
    """best_reading's similarity for each of many crops' stored readings, in one vectorized call."""
    owners, flat = flatten_readings(stored)
    return owner_similarities(query, owners, flat, len(stored))


def owner_similarities(query: str, owners: np.ndarray, readings: list[str], count: int) -> np.ndarray:
    """The best similarity of the query to the readings of each of `count` owners; reading i
    belongs to owner `owners[i]` (an owner without readings: 0)."""
    best = np.zeros(count, np.float32)
    if readings:
        np.maximum.at(best, owners, _similarities(query, readings))
    return best


def best_readings(query: str, stored: list[str | None]) -> list[tuple[float, str | None]]:
    """best_reading for each of many crops' stored readings, in one vectorized call."""
    owners, flat = flatten_readings(stored)
    found: list[tuple[float, str | None]] = [(0.0, None)] * len(stored)
    for owner, reading, similarity in zip(owners.tolist(), flat, _similarities(query, flat).tolist(), strict=True):
        if found[owner][1] is None or similarity > found[owner][0]:  # the first of equals, as np.argmax
            found[owner] = (similarity, reading)
    return found


def partial_similarity(part: str, stored: str | None) -> float:
    """How well the best reading holds `part` somewhere inside it (0..1, confusables equal):
    for a pattern's known characters, where the rest of the plate is unknown."""
    readings = [confusable_canonical(r) for r in split_readings(stored)]
    if not readings or not part:
        return 0.0
    part = confusable_canonical(part)
    return max(fuzz.partial_ratio(part, reading) / 100.0 if len(reading) >= len(part) else 0.0 for reading in readings)


def plain_similarity(query: str, texts: list[str]) -> float:
    """Best plain normalized Levenshtein similarity of the query to any text (the baseline's ranking)."""
    if not texts:
        return 0.0
    return float(cdist([query], texts, scorer=Levenshtein.normalized_similarity, dtype=np.float32)[0].max())
