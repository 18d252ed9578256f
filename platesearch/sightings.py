"""Sightings: the crops of one plate in consecutive sampled frames of a video, as one.

A crop continues a sighting seen at most MAX_GAP seconds before when one of its readings is
close to one of the sighting's (the same plate read again, wherever the car moved), or, with
no readings to compare, when its box overlaps the sighting's last box (the same place in the
next frame). Two candidates of one plate in one frame (the plate, and the plate with its
country band) join the same sighting the same way. A frame skipped as a repeat of the one
before (`video.SampledFrame` with no image) shows the same plates still there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from platesearch.metrics import box_iou
from platesearch.records import Box, CropRow, Sighting
from platesearch.textmatch import split_readings, text_similarities

MAX_GAP = 1.5  # seconds: three sampled frames at 2 per second may miss the plate
SAME_READING = 0.7  # textmatch similarity of two readings of one plate (one or two characters misread)
SAME_PLACE = 0.3  # intersection over union of boxes in consecutive frames
# Readings shorter than this are fragments (a "1", an "SK" off a sticker) that say nothing of
# which plate a crop shows: with stray end characters cheap, "1" came within SAME_READING of
# "21" and joined a stranger's crop to a plate's sighting (tests/test_video.py).
MIN_READING = 4


@dataclass
class _Track:
    number: int
    first: float
    last: float
    box: Box
    readings: list[str] = field(default_factory=list)


class SightingTracker:
    """Numbers the crops of one video's frames, in time order, by sighting."""

    def __init__(self) -> None:
        self.tracks: list[_Track] = []
        self.rows: list[tuple[CropRow, int]] = []  # every crop so far (with its time) and its track number
        self.last_frame = float("-inf")  # time of the last frame seen, kept or repeated

    def add(self, time: float, rows: list[CropRow]) -> None:
        """The candidates of the frame at `time`."""
        active = [t for t in self.tracks if time - t.last <= MAX_GAP]
        for row in rows:
            track = self._continued(row, active)
            if track is None:
                track = _Track(len(self.tracks), time, time, row.box)
                self.tracks.append(track)
                active.append(track)
            track.last, track.box = time, row.box
            track.readings = list(dict.fromkeys([*track.readings, *_plate_readings(row.ocr_text)]))[-8:]
            self.rows.append((replace(row, time=time), track.number))
        self.last_frame = time

    def repeat(self, time: float) -> None:
        """A frame at `time` repeats the frame before: what was in sight still is."""
        for track in self.tracks:
            if track.last == self.last_frame:
                track.last = time
        self.last_frame = time

    def crops(self) -> list[CropRow]:
        """Every crop, its sighting's first and last time filled in."""
        spans = [Sighting(t.number, t.first, t.last) for t in self.tracks]
        return [replace(row, sighting=spans[number]) for row, number in self.rows]

    @staticmethod
    def _continued(row: CropRow, tracks: list[_Track]) -> _Track | None:
        readings = _plate_readings(row.ocr_text)
        best, best_score = None, 0.0
        for track in tracks:
            if readings and track.readings:
                similarity = max(float(np.max(text_similarities(r, track.readings))) for r in readings)
                score = similarity if similarity >= SAME_READING else 0.0
            else:
                overlap = box_iou(row.box, track.box)
                score = overlap if overlap >= SAME_PLACE else 0.0
            if score > best_score:
                best, best_score = track, score
        return best


def _plate_readings(ocr_text: str | None) -> list[str]:
    """A crop's readings long enough to tell one plate from another."""
    return [reading for reading in split_readings(ocr_text) if len(reading) >= MIN_READING]
