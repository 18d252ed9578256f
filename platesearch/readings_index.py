"""One store's OCR readings held in memory, with a character-trigram index over them.

A long-running reader (`serve`) answers the OCR side of a query from here instead of SQLite:
over 1M crops, fetching the trigram candidates out of the catalog's FTS table and splitting
their stored text took about 7 of a query's 24 ms of CPU (BENCHMARKS.md "Serving"). The
candidates are the same as the catalog's (`IndexStore.ocr_readings`): every reading up to
the full-scan limit, above it the crops with a reading that shares a trigram with the plate.

Compact on purpose, so a server can keep it beside the vectors: every reading in one string
(a byte a character for plate text), int64 offsets into it, and per trigram the sorted
positions of the crops holding it (int32). The trigrams are those of SQLite's trigram
tokenizer restricted to what a query can contain: letters (case folded) and digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from platesearch.textmatch import READING_SEPARATOR, flatten_readings

SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_BASE = len(SYMBOLS)
_NOT_A_SYMBOL = 255
_SYMBOL_CODES = np.full(128, _NOT_A_SYMBOL, np.uint8)
for _code, _symbol in enumerate(SYMBOLS):
    _SYMBOL_CODES[ord(_symbol)] = _SYMBOL_CODES[ord(_symbol.lower())] = _code
BUILD_CHUNK = 1_000_000  # characters coded at a time while building: bounds the temporary arrays (4M: slower)
CROP_SEPARATOR = "\x1e"  # between crops in ReadingsIndex.text (ASCII record separator)


@dataclass(frozen=True)
class CandidateReadings:
    """The readings the OCR search scores for one query, flattened: reading i belongs to crop
    `crop_ids[owners[i]]`; `crop_ids` ascending (equal scores rank the lower id first)."""

    crop_ids: np.ndarray
    owners: np.ndarray
    readings: list[str]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, str | None]]) -> CandidateReadings:
        """From (crop id, stored readings) rows, in any order."""
        ordered = sorted((crop_id, stored) for crop_id, stored in rows if stored)
        owners, readings = flatten_readings([stored for _, stored in ordered])
        return cls(np.fromiter((crop_id for crop_id, _ in ordered), np.int64, len(ordered)), owners, readings)


def _trigram_codes(text: str) -> np.ndarray:
    """The code of each trigram of `text` (position order), -1 where it holds a character that
    is not a letter or a digit."""
    symbols = _symbols(text)
    if len(symbols) < 3:
        return np.zeros(0, np.int64)
    return _codes_at(symbols, np.arange(len(symbols) - 2))


def _symbols(text: str) -> np.ndarray:
    return _symbols_of(np.frombuffer(text.encode("utf-32-le"), np.uint32))


def _symbols_of(points: np.ndarray) -> np.ndarray:
    """Each code point's symbol code (its position in SYMBOLS), _NOT_A_SYMBOL for any other."""
    return np.where(points < 128, _SYMBOL_CODES[np.minimum(points, 127)], _NOT_A_SYMBOL)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting in place (numpy's hash-based unique of int64 took 5 s at 1M crops)."""
    values.sort()
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _trigram_postings(symbols: np.ndarray, crop_of: np.ndarray, crops: int) -> tuple[np.ndarray, np.ndarray]:
    """Per trigram code, the ascending crop positions that hold it (CSR: starts, crops)."""
    span = max(crops, 1)
    keys = []
    for first in range(0, max(len(symbols) - 2, 0), BUILD_CHUNK):
        at = np.arange(first, min(first + BUILD_CHUNK, len(symbols) - 2))
        codes = _codes_at(symbols, at)
        kept = codes >= 0
        keys.append(_sorted_unique(codes[kept] * span + crop_of[at[kept]].astype(np.int64)))
    merged = _sorted_unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    starts = np.searchsorted(merged // span, np.arange(_BASE**3 + 1))
    return starts, (merged % span).astype(np.int32)


def _codes_at(symbols: np.ndarray, at: np.ndarray) -> np.ndarray:
    a, b, c = (symbols[at + i].astype(np.int64) for i in range(3))
    codes = (a * _BASE + b) * _BASE + c
    codes[(a == _NOT_A_SYMBOL) | (b == _NOT_A_SYMBOL) | (c == _NOT_A_SYMBOL)] = -1
    return codes


class ReadingsIndex:
    """Every reading of some crops, and which crops hold each character trigram."""

    def __init__(self, rows: Iterable[tuple[int, str | None]]) -> None:
        """`rows`: (crop id, stored readings as `textmatch.join_readings` wrote them), any order."""
        kept = [(crop_id, stored) for crop_id, stored in rows if stored]
        ids = np.fromiter((crop_id for crop_id, _ in kept), np.int64, len(kept))
        order = np.argsort(ids, kind="stable")
        self.crop_ids = ids[order]
        # Every crop's stored text in crop order, CROP_SEPARATOR between crops: a separator is
        # not a letter or digit, so no trigram spans two readings.
        self.text = CROP_SEPARATOR.join([kept[i][1] for i in order.tolist()])
        points = np.frombuffer(self.text.encode("utf-32-le"), np.uint32)
        is_crop_end = points == ord(CROP_SEPARATOR)
        separators = np.flatnonzero(is_crop_end | (points == ord(READING_SEPARATOR)))
        self.starts = np.concatenate([[0], separators + 1]) if kept else np.zeros(0, np.int64)
        self.ends = np.concatenate([separators, [len(points)]]) if kept else np.zeros(0, np.int64)
        new_crop = np.concatenate([[True], is_crop_end[separators]]) if kept else np.zeros(0, bool)
        self.first_reading = np.append(np.flatnonzero(new_crop), len(new_crop))  # crop position -> its readings
        crop_of = np.cumsum(is_crop_end, dtype=np.int32)  # crop position of each character
        self.trigram_starts, self.trigram_crops = _trigram_postings(_symbols_of(points), crop_of, len(kept))

    def __len__(self) -> int:
        return len(self.crop_ids)

    def stored_readings(self, crop_ids: list[int]) -> dict[int, str]:
        """The stored readings (as `textmatch.join_readings` wrote them) of those of `crop_ids`
        that have any."""
        ids = np.asarray(crop_ids, np.int64)
        positions = np.minimum(np.searchsorted(self.crop_ids, ids), max(len(self.crop_ids) - 1, 0))
        held = (self.crop_ids[positions] == ids) if len(self.crop_ids) else np.zeros(len(ids), bool)
        positions = positions[held]
        starts = self.starts[self.first_reading[positions]].tolist()
        ends = self.ends[self.first_reading[positions + 1] - 1].tolist()
        text = self.text
        return {crop_id: text[start:end] for crop_id, start, end in zip(ids[held].tolist(), starts, ends, strict=True)}

    def candidates(self, plate: str, every_reading: bool) -> CandidateReadings:
        """The readings to score for `plate`: every one, or those of the crops that hold a
        trigram of the plate."""
        if every_reading:
            positions = np.arange(len(self.crop_ids))
        else:
            codes = np.unique(_trigram_codes(plate))
            codes = codes[codes >= 0]
            found = [self.trigram_crops[self.trigram_starts[c] : self.trigram_starts[c + 1]] for c in codes]
            positions = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int32)
        first, last = self.first_reading[positions], self.first_reading[positions + 1]
        counts = last - first
        owners = np.repeat(np.arange(len(positions)), counts)
        numbers = np.arange(len(owners)) - np.repeat(np.cumsum(counts) - counts, counts) + first[owners]
        starts, ends, text = self.starts[numbers].tolist(), self.ends[numbers].tolist(), self.text
        readings = [text[start:end] for start, end in zip(starts, ends, strict=True)]
        return CandidateReadings(self.crop_ids[positions], owners, readings)
