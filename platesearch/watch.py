"""Watch lists: index a folder as images arrive and alert when a crop shows a watched plate.

A watch list is a text file, one plate or pattern (`AB?12*`) per line, `#` for comments.
Each newly indexed crop is checked against every entry:
- exact: its reading is the plate, one confusable character or one stray end character allowed
  (the search's "exact" tier), or matches the pattern;
- lenient (the default): also a reading at least LENIENT_READING similar (about two real edits
  on a 7-character plate), or an embedding at least LENIENT_COSINE close to the plate's render
  (a plate OCR misread badly). Both thresholds were chosen leave one dataset out on the EU and
  BR photos (experiments/RESULTS.md): the best F1 with no false alert from 300 random plates.
The alert's score is the hybrid search score of the crop for that plate (a pattern's: 0.5 plus
half the reading's closeness), and `--min-score` drops weaker alerts.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from platesearch.patterns import PlatePattern, is_pattern
from platesearch.pipeline import PlateIndex
from platesearch.plates import PlateTextError, normalize_plate
from platesearch.records import Box
from platesearch.scoring import EXACT, hybrid_scores
from platesearch.textmatch import best_reading, partial_similarity

EXACT_MODE, LENIENT_MODE = "exact", "lenient"
LENIENT_READING = 0.75
LENIENT_COSINE = 0.875  # chosen leave one dataset out for today's vectors (three views, RESULTS.md §3)
WEBHOOK_RETRIES = 3
WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Alert:
    plate: str  # the watch-list entry
    path: str
    score: float
    box: Box
    reading: str | None
    time: str | None  # the file's modification time (ISO 8601, UTC): when the photo was written
    taken_at: str | None = None  # when it was taken, as `query --json` says it (records.StoredCrop.taken_at)
    # a video: one alert per sighting, its best frame's seconds from the start (query --json's "time"),
    # and when the sighting starts and ends; None for a photo
    video_time: float | None = None
    first: float | None = None
    last: float | None = None

    def to_json(self) -> dict:
        return {**asdict(self), "score": round(self.score, 6), "box": list(self.box)}


def read_watch_list(path: Path) -> list[str]:
    """Normalized plates and patterns of a watch-list file; a bad line is an error naming it."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            entries.append(PlatePattern.parse(text).text if is_pattern(text) else normalize_plate(text))
        except PlateTextError as error:
            raise PlateTextError(f"{path}, line {number}: {error}") from None
    if not entries:
        raise PlateTextError(f"{path} lists no plates")
    return entries


def alerts_for(
    plate_index: PlateIndex, paths: list[str], watched: list[str], mode: str, min_score: float
) -> list[Alert]:
    """Alerts for the crops of these (just indexed) photos, best first per entry; a video's
    sighting alerts once, with its best crop."""
    crops = plate_index.crops_of(paths)
    if not crops:
        return []
    ids = list(crops)
    alerts = []
    for entry in watched:
        if is_pattern(entry):
            pattern = PlatePattern(entry)
            for crop_id in ids:
                matched = pattern.match(crops[crop_id].ocr_text)
                if matched is not None:
                    score = 0.5 + 0.5 * partial_similarity(pattern.longest_run, crops[crop_id].ocr_text)
                    alerts.append((crop_id, _alert(entry, crops[crop_id], score, matched)))
            continue
        readings = [best_reading(entry, crops[crop_id].ocr_text) for crop_id in ids]
        cosines = plate_index.cosine(plate_index.embed_plate(entry), ids)
        heights = np.array([crops[crop_id].box[3] for crop_id in ids])
        scores = hybrid_scores(np.array(cosines), np.array([r[0] for r in readings]), entry, text_heights=heights)
        for crop_id, (similarity, reading), cosine, score in zip(ids, readings, cosines, scores.tolist(), strict=True):
            exact = similarity >= EXACT - 1e-6
            lenient = similarity >= LENIENT_READING or cosine >= LENIENT_COSINE
            if exact or (mode == LENIENT_MODE and lenient):
                alerts.append((crop_id, _alert(entry, crops[crop_id], score, reading)))
    best: dict[tuple, Alert] = {}  # one per photo crop, or per video sighting
    for crop_id, alert in alerts:
        crop = crops[crop_id]
        key = (alert.plate, *crop.place) if crop.sighting else (alert.plate, crop_id)
        if key not in best or alert.score > best[key].score:
            best[key] = alert
    return sorted((a for a in best.values() if a.score >= min_score), key=lambda a: (a.plate, -a.score))


def _alert(entry: str, crop, score: float, reading: str | None) -> Alert:
    try:
        when = datetime.fromtimestamp(Path(crop.photo_path).stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        when = None
    sighting = crop.sighting
    return Alert(
        entry,
        crop.photo_path,
        float(score),
        crop.box,
        reading,
        when,
        crop.taken_at,
        crop.time,
        sighting.first if sighting else None,
        sighting.last if sighting else None,
    )


class Webhook:
    """POSTs alerts as JSON from a thread of its own, with retries: indexing never waits for it."""

    def __init__(self, url: str, on_failure: Callable[[str], None]) -> None:
        self.url = url
        self.on_failure = on_failure
        self.pending: queue.Queue[Alert | None] = queue.Queue()
        self.thread = threading.Thread(target=self._deliver, daemon=True)
        self.thread.start()

    def send(self, alert: Alert) -> None:
        self.pending.put(alert)

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to `timeout` seconds), then stop."""
        self.pending.put(None)
        self.thread.join(timeout)

    def _deliver(self) -> None:
        while (alert := self.pending.get()) is not None:
            body = json.dumps(alert.to_json()).encode()
            for attempt in range(WEBHOOK_RETRIES):
                request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT):
                        break
                except (urllib.error.URLError, OSError) as error:
                    if attempt == WEBHOOK_RETRIES - 1:
                        self.on_failure(f"webhook {self.url} failed for {alert.path}: {error}")
                    else:
                        time.sleep(0.5 * 2**attempt)


def watch(
    folder: Path,
    plate_index: PlateIndex,
    watched: list[str],
    on_alert: Callable[[Alert], None],
    mode: str = LENIENT_MODE,
    min_score: float = 0.0,
    once: bool = False,
    interval: float = 10.0,
    stop: threading.Event | None = None,
) -> None:
    """Index what is new or changed in `folder` (polling every `interval` seconds), alerting on
    watched plates; `once`: one pass over what is there, then return."""
    while True:
        report = plate_index.add([folder], workers=None, stop=stop)
        for alert in alerts_for(plate_index, report.indexed_paths, watched, mode, min_score):
            on_alert(alert)
        if once or (stop is not None and stop.wait(interval)) or report.interrupted:
            return
        if stop is None:
            time.sleep(interval)
