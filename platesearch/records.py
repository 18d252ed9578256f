"""The records that cross module boundaries, in one place and under one name each.

A *candidate* is a region of a photo that may show a plate (the localizer's output; a whole
image when the inputs are plate crops). Once stored it is a *crop* of the catalog, with a crop
id. A *search result* is one photo of a ranking. Their JSON form is the CLI's (and a server's).
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[int, int, int, int]  # x, y, width, height in photo pixels


@dataclass(frozen=True)
class CropRow:
    """What the catalog stores of one candidate: where it is and what OCR read in it."""

    box: Box
    ocr_text: str | None = None  # every reading, joined (textmatch.join_readings); None: never read
    ocr_confidence: float | None = None


@dataclass(frozen=True)
class StoredCrop:
    """A crop read back from the catalog."""

    crop_id: int
    photo_path: str
    box: Box
    ocr_text: str | None
    ocr_confidence: float | None


@dataclass(frozen=True)
class SearchResult:
    """One photo of a ranking; `box` is its best-matching crop."""

    rank: int
    path: str
    score: float
    box: Box
    crop_id: int
    reading: str | None = None  # the crop's OCR reading closest to the query, if it has any
    ocr_confidence: float | None = None  # EasyOCR's confidence in the crop's readings
    matched: str | None = None  # a pattern query: the reading it matched, wildcard parts in brackets

    def to_json(self) -> dict:
        """The row of `query --json`: {rank, path, score, box[, reading, ocr_confidence][, matched]}."""
        row = {"rank": self.rank, "path": self.path, "score": round(self.score, 6), "box": list(self.box)}
        if self.reading is not None:
            row["reading"] = self.reading
            if self.ocr_confidence is not None:
                row["ocr_confidence"] = round(self.ocr_confidence, 4)
        if self.matched is not None:
            row["matched"] = self.matched
        return row
