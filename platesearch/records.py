"""The records that cross module boundaries, in one place and under one name each.

A *candidate* is a region of a photo that may show a plate (the localizer's output; a whole
image when the inputs are plate crops). Once stored it is a *crop* of the catalog, with a crop
id. A *search result* is one photo of a ranking. Their JSON form is the CLI's (and a server's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

Box = tuple[int, int, int, int]  # x, y, width, height in photo pixels


@dataclass(frozen=True)
class Sighting:
    """One plate passing through a video: its crops in consecutive sampled frames (`sightings.py`)."""

    number: int  # 0, 1, ... within its video
    first: float  # seconds from the start of the video
    last: float


@dataclass(frozen=True)
class CropRow:
    """What the catalog stores of one candidate: where it is and what OCR read in it."""

    box: Box
    ocr_text: str | None = None  # every reading, joined (textmatch.join_readings); None: never read
    ocr_confidence: float | None = None
    time: float | None = None  # a video's crop: seconds from the start to its frame (None in a photo)
    sighting: Sighting | None = None  # a video's crop: the sighting it belongs to


@dataclass(frozen=True)
class StoredCrop:
    """A crop read back from the catalog."""

    crop_id: int
    photo_path: str
    box: Box
    ocr_text: str | None
    ocr_confidence: float | None
    taken_at: str | None = None  # ISO 8601 local time (media.taken_at); None in indexes made before it
    time: float | None = None  # CropRow.time
    sighting: Sighting | None = None  # CropRow.sighting

    @property
    def place(self) -> tuple[str, int | None]:
        """What a ranking counts once: a photo, or one sighting of a video."""
        return self.photo_path, self.sighting.number if self.sighting else None


@dataclass(frozen=True)
class TimeWindow:
    """Photos taken from `since` to `until` (either open), ISO 8601 local times to the second."""

    since: str | None = None
    until: str | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> TimeWindow:
        """From what a user types: a date (`2026-03-01`: from its start; as `until`, to its end)
        or a date and time, with or without a UTC offset (converted to this machine's local time)."""
        window = cls(_local_iso(since, time.min) if since else None, _local_iso(until, time.max) if until else None)
        if window.since and window.until and window.since > window.until:
            raise ValueError(f"the time window is empty: {since} is after {until}")
        return window

    def holds(self, taken_at: str | None) -> bool:
        """Whether a photo's time is inside; a photo with no known time is not."""
        if self.since is None and self.until is None:
            return True
        return taken_at is not None and (self.since or "") <= taken_at <= (self.until or "9999")


ALL_TIME = TimeWindow()  # no time filter


def _local_iso(text: str, time_of_day: time) -> str:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r} (e.g. 2026-03-01 or 2026-03-01T14:30)") from None
    if len(text.strip()) == 10:  # a bare date: the start or the end of that day
        moment = datetime.combine(date.fromisoformat(text.strip()), time_of_day)
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


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
    taken_at: str | None = None  # when the photo was taken (StoredCrop.taken_at)
    time: float | None = None  # a video: seconds from its start to the best frame of the sighting
    sighting: Sighting | None = None  # a video: when the plate was first and last seen

    def to_json(self) -> dict:
        """The row of `query --json`: {rank, path, score, box[, reading, ocr_confidence][, matched][, taken_at]
        [, time, first, last]}."""
        row = {"rank": self.rank, "path": self.path, "score": round(self.score, 6), "box": list(self.box)}
        if self.reading is not None:
            row["reading"] = self.reading
            if self.ocr_confidence is not None:
                row["ocr_confidence"] = round(self.ocr_confidence, 4)
        if self.matched is not None:
            row["matched"] = self.matched
        if self.taken_at is not None:
            row["taken_at"] = self.taken_at
        if self.time is not None:
            row["time"] = self.time
        if self.sighting is not None:
            row["first"], row["last"] = self.sighting.first, self.sighting.last
        return row
