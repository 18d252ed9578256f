"""Indexing files: which files need work, the per-file work (decode, localize, binarize), and
when batches are embedded and committed. Where the per-file work runs is `workers`' business."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from platesearch.catalog import PhotoRow
from platesearch.media import ImageReadError, file_sha256, read_image, taken_at
from platesearch.records import CropRow
from platesearch.shards import ShardSet
from platesearch.sightings import SightingTracker
from platesearch.textmatch import join_readings, split_readings
from platesearch.video import DEFAULT_SAMPLE_FPS, VideoFrames, is_video, video_duration
from platesearch.views import VIEWS, crop_views, mean_of_views
from platesearch.workers import run_in_order

# Crops per model call (measured 570 crops/s at 64 against 334 at 16); a commit (a vectors
# segment and a catalog transaction, `store.py`) happens when the crops waiting hold 5 % of
# the index or 10 s of work, so commits stay few and an interruption redoes little.
EMBED_BATCH = 64
COMMIT_FRACTION = 0.05
COMMIT_SECONDS = 10.0
STAGES = ("hash", "decode", "localize", "binarize", "embed", "add", "commit")
# A file whose preparation in a worker takes longer than this is recorded as failed and the run
# goes on (a decoder that hangs); 100 MP photos take well under a minute on 2 cores.
FILE_TIMEOUT_SECONDS = 300.0
FRAME_TIMEOUT_SECONDS = 30.0  # and this much more per frame a video's sampling will localize


@dataclass
class IndexReport:
    """What one indexing run did."""

    indexed: int = 0
    videos: int = 0  # of the files indexed
    candidates: int = 0
    skipped: int = 0  # already in the index: unchanged (path, size, time) or the same content
    moved: int = 0  # indexed before at a path that no longer exists: the new path is recorded
    without_candidates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    read_in_part: list[tuple[str, str]] = field(default_factory=list)  # indexed up to an error: (path, reason)
    not_images: dict[str, int] = field(default_factory=dict)  # files in the folders given: suffix -> count
    interrupted: bool = False  # stopped before every file was done (what was done is committed)
    indexed_paths: list[str] = field(default_factory=list)  # the files indexed in this run (watch lists alert on them)
    # seconds per stage; decode, localize and binarize are summed over the worker processes
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, part: IndexReport) -> None:
        """Count another run's work in this one (a chunk of a distributed run)."""
        for name in ("indexed", "videos", "candidates", "skipped", "moved", "without_candidates"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.failed += part.failed
        self.read_in_part += part.read_in_part
        self.indexed_paths += part.indexed_paths
        for stage, seconds in part.seconds.items():
            self.seconds[stage] += seconds


PLATE_SHAPE = (64, 512)  # binarize's output
NO_PLATES = np.zeros((0, VIEWS * PLATE_SHAPE[0] * PLATE_SHAPE[1] // 8), np.uint8)


def pack_plates(plate_views: list[list[np.ndarray]]) -> np.ndarray:
    """Each crop's binarized views (VIEWS plate images of 0 or 255) as bits, one row per crop:
    12 KB instead of 96 KB to hold (a video's crops wait until it is done) and to pass from a
    worker process."""
    if not plate_views:
        return NO_PLATES
    return np.packbits(np.stack([np.stack(views) for views in plate_views]) > 127, axis=None).reshape(
        len(plate_views), -1
    )


def unpack_plates(plate_bits: np.ndarray) -> np.ndarray:
    """pack_plates undone: uint8 [n, VIEWS, 64, 512] of 0 and 255."""
    return np.unpackbits(plate_bits, axis=1).reshape(len(plate_bits), VIEWS, *PLATE_SHAPE) * np.uint8(255)


@dataclass(frozen=True)
class Job:
    path: str
    sha256: str
    size: int
    mtime: float
    error: str | None = None  # the file could not even be read for hashing
    video_seconds: float = 0.0  # a video's length, as its header announces it


def preparation_timeout(job: Job, video_fps: float) -> float:
    """Seconds a worker may take to prepare a file before it is given up (a decoder that hangs)."""
    return FILE_TIMEOUT_SECONDS + FRAME_TIMEOUT_SECONDS * job.video_seconds * video_fps


@dataclass
class Prepared:
    """A file after decode, localize and binarize: its candidates, or why it failed."""

    job: Job
    crops: list[CropRow]
    plate_bits: np.ndarray  # each crop's binarized views, one row per crop, bit-packed (pack_plates)
    error: str | None
    seconds: dict[str, float]
    taken_at: str | None = None  # media.taken_at of a file that decoded
    warning: str | None = None  # what of the file could not be read, though the rest was (a video cut short)


@dataclass(frozen=True)
class Preparer:
    """The per-file work of indexing; picklable, so worker processes can run it."""

    inputs_are_crops: bool
    ocr: bool
    max_pixels: int
    detector_max_side: int | None = None  # None: the localizer's default canvas
    video_fps: float = DEFAULT_SAMPLE_FPS  # frames sampled per second of video

    def __call__(self, job: Job) -> Prepared:
        seconds = dict.fromkeys(("decode", "localize", "binarize"), 0.0)
        if job.error is not None:
            return Prepared(job, [], NO_PLATES, job.error, seconds)
        try:
            if is_video(job.path):
                return self._video(job, seconds)
            started = time.perf_counter()
            image = read_image(job.path, max_pixels=self.max_pixels)
            seconds["decode"] = time.perf_counter() - started
            rows, plate_views = self._prepared_candidates(image, seconds)
        except ImageReadError as error:
            return Prepared(job, [], NO_PLATES, error.reason, seconds)
        except (ValueError, cv2.error) as error:  # e.g. an image too small to binarize
            return Prepared(job, [], NO_PLATES, f"cannot process: {error}", seconds)
        return Prepared(job, rows, pack_plates(plate_views), None, seconds, taken_at(job.path, job.mtime))

    def _prepared_candidates(
        self, image: np.ndarray, seconds: dict[str, float], video_frame: bool = False
    ) -> tuple[list[CropRow], list[list[np.ndarray]]]:
        """Localize, binarize and read one image: its crops and each crop's VIEWS binarized plate
        images; the time each stage took is added to `seconds`."""
        started = time.perf_counter()
        found = self._candidates(image, video_frame)
        localized = time.perf_counter()
        plate_views = [crop_views(crop, framed_plates) for _, crop, framed_plates in found]
        rows = [row for row, _, _ in found]
        if self.ocr or not self.inputs_are_crops:
            rows = [_with_reading_of(row, views[0]) for row, views in zip(rows, plate_views, strict=True)]
        seconds["localize"] += localized - started
        seconds["binarize"] += time.perf_counter() - localized
        return rows, plate_views

    def _video(self, job: Job, seconds: dict[str, float]) -> Prepared:
        """Every sampled frame of a video localized like a photo, its crops numbered by sighting.
        Frames are decoded one at a time; a video that stops decoding keeps what came before."""
        if self.inputs_are_crops:
            return Prepared(
                job, [], NO_PLATES, "a video cannot be indexed as plate crops: index it without --crops", seconds
            )
        tracker = SightingTracker()
        plate_bits = [NO_PLATES]  # packed frame by frame: a long video's crops stay small
        frames = VideoFrames(job.path, self.video_fps, self.max_pixels)
        sampled = 0
        decode_started = time.perf_counter()
        for frame in frames:
            sampled += 1
            seconds["decode"] += time.perf_counter() - decode_started
            if frame.image is None:
                tracker.repeat(frame.time)
            else:
                try:
                    rows, views = self._prepared_candidates(frame.image, seconds, video_frame=True)
                except (ValueError, cv2.error):  # one frame that cannot be processed: the next may
                    rows, views = [], []
                tracker.add(frame.time, rows)
                plate_bits.append(pack_plates(views))
            decode_started = time.perf_counter()
        if not sampled:
            return Prepared(job, [], NO_PLATES, frames.ended_early or "the video has no frames", seconds)
        return Prepared(
            job,
            tracker.crops(),
            np.concatenate(plate_bits),
            None,
            seconds,
            taken_at(job.path, job.mtime),
            frames.ended_early,
        )

    def _candidates(
        self, image: np.ndarray, video_frame: bool
    ) -> list[tuple[CropRow, np.ndarray, tuple[np.ndarray, ...]]]:
        """Each crop's row, its image and, for a photo's candidate, its binarized framings
        (Candidate.framed_plates; a crop file's views are made from it alone, views.crop_views)."""
        # EasyOCR (torch) loads only when photos or OCR readings need it.
        if self.inputs_are_crops:
            h, w = image.shape[:2]
            if not self.ocr:
                return [(CropRow((0, 0, w, h)), image, ())]
            from platesearch.localize import read_plate_crop

            readings, confidence = read_plate_crop(image)
            return [(CropRow((0, 0, w, h), join_readings(readings), confidence), image, ())]
        from platesearch.localize import DEFAULT_MAX_SIDE, localize

        # a video frame with nothing in it is not detected twice (localize): most such frames are empty
        found = localize(image, self.detector_max_side or DEFAULT_MAX_SIDE, detect_again_if_empty=not video_frame)
        return [(CropRow(c.box, c.ocr_text, c.ocr_confidence), c.crop, c.framed_plates) for c in found]


def _with_reading_of(row: CropRow, plate_image: np.ndarray) -> CropRow:
    """The crop's readings and the reading of its binarized plate image (localize.read_plate_image)."""
    from platesearch.localize import read_plate_image

    readings = [*split_readings(row.ocr_text), read_plate_image(plate_image)]
    return replace(row, ocr_text=join_readings(readings))


@dataclass
class Batch:
    """Prepared files waiting to be embedded and committed together."""

    photos: list[PhotoRow] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    plate_bits: list[np.ndarray] = field(default_factory=list)  # packed plate views not embedded yet, one row per crop
    embedded: list[np.ndarray] = field(default_factory=list)  # their vectors, in crop order
    crops: int = 0
    read_in_part: list[tuple[str, str]] = field(default_factory=list)  # (path, what could not be read)

    def take(self, prepared: Prepared) -> None:
        if prepared.error is not None:
            self.failed.append((prepared.job.path, prepared.error))
            return
        job = prepared.job
        self.photos.append(
            PhotoRow(job.path, job.sha256, job.size, job.mtime, prepared.crops, prepared.taken_at, prepared.warning)
        )
        if prepared.warning is not None:
            self.read_in_part.append((job.path, prepared.warning))
        self.plate_bits += list(prepared.plate_bits)
        self.crops += len(prepared.crops)

    @property
    def waiting(self) -> int:
        return self.crops + len(self.photos) + len(self.failed)


Embed = Callable[[np.ndarray], np.ndarray]  # uint8 [n, 64, 512] plate images -> unit vectors [n, d]
Progress = Callable[[int, int, IndexReport], None]  # (files done, files total, report so far)


class Ingest:
    """One indexing run into an index's shards: skip what is indexed, prepare the rest, embed and
    commit in batches (into the last shard, `ShardSet.add_batch`)."""

    def __init__(self, shards: ShardSet, embed: Embed, dim: int, progress: Progress | None = None) -> None:
        self.shards = shards
        self.embed = embed
        self.dim = dim
        self.progress = progress
        self.report = IndexReport()
        self.done = 0
        self.total = 0

    def run(
        self, files: list[Path], preparer: Preparer, workers: int, stop: threading.Event | None = None
    ) -> IndexReport:
        """Index `files`; `stop`, once set, ends the run after the file at hand, committing what is done."""
        self.total = len(files)
        self._tick()
        batch = Batch()
        last_commit = time.perf_counter()
        prepared_files = run_in_order(
            preparer,
            self._new_jobs(files),
            workers,
            partial(preparation_timeout, video_fps=preparer.video_fps),
            on_timeout=partial(self._timed_out, video_fps=preparer.video_fps),
        )
        try:
            for prepared in prepared_files:
                for stage, seconds in prepared.seconds.items():
                    self.report.seconds[stage] += seconds
                batch.take(prepared)
                if len(batch.plate_bits) >= EMBED_BATCH:
                    self._embed(batch)
                if batch.waiting >= max(EMBED_BATCH, COMMIT_FRACTION * self.shards.writer.vectors.ntotal) or (
                    time.perf_counter() - last_commit >= COMMIT_SECONDS
                ):
                    self._commit(batch)
                    batch = Batch()
                    last_commit = time.perf_counter()
                self._tick(1)
                if stop is not None and stop.is_set():
                    self.report.interrupted = self.done < self.total
                    break
        finally:
            prepared_files.close()  # a worker pool stops taking files
        self._commit(batch)
        return self.report

    @staticmethod
    def _timed_out(job: Job, video_fps: float) -> Prepared:
        limit = preparation_timeout(job, video_fps)
        return Prepared(job, [], NO_PLATES, f"took longer than {limit:.0f} s to prepare: skipped", {})

    def _tick(self, advance: int = 0) -> None:
        self.done += advance
        if self.progress:
            self.progress(self.done, self.total, self.report)

    def _new_jobs(self, files: list[Path]) -> Iterator[Job]:
        """Files to prepare. An unchanged file (same path, size and time) is skipped unread;
        other files are hashed, and content indexed already or seen in this run is skipped;
        a file indexed before at a path that no longer exists is recorded at its new path."""
        seen: set[str] = set()
        shards = self.shards
        for path in files:
            started = time.perf_counter()
            try:
                stat = path.stat()
                found = shards.known_file(str(path))
                known = found[1] if found else None
                if known and known.unchanged(stat.st_size, stat.st_mtime):
                    self._skip()
                    continue
                sha256 = file_sha256(path)
            except OSError as error:
                yield Job(str(path), "", 0, 0.0, f"cannot read file: {error.strerror or error}")
                continue
            finally:
                self.report.seconds["hash"] += time.perf_counter() - started
            indexed_at = shards.photo_by_hash(sha256)
            if sha256 in seen:
                self._skip()
            elif indexed_at == str(path):  # touched, not changed
                shards.touch(str(path), stat.st_mtime)
                self._skip()
            elif indexed_at is not None and Path(indexed_at).exists():  # the same content at another path
                self._skip()
            elif indexed_at is not None and (known is None or known.status != "ok"):
                shards.move(indexed_at, str(path), stat.st_size, stat.st_mtime)
                self.report.moved += 1
                self._tick(1)
            else:
                seen.add(sha256)
                yield Job(
                    str(path),
                    sha256,
                    stat.st_size,
                    stat.st_mtime,
                    video_seconds=video_duration(path) if is_video(path) else 0.0,
                )

    def _skip(self) -> None:
        self.report.skipped += 1
        self._tick(1)

    def _embed(self, batch: Batch) -> None:
        started = time.perf_counter()
        for start in range(0, len(batch.plate_bits), EMBED_BATCH):  # a long video's crops, a batch at a time
            views = unpack_plates(np.stack(batch.plate_bits[start : start + EMBED_BATCH]))
            batch.embedded.append(mean_of_views(self.embed(views.reshape(-1, *PLATE_SHAPE))))
        batch.plate_bits = []
        self.report.seconds["embed"] += time.perf_counter() - started

    def _commit(self, batch: Batch) -> None:
        """Embed what waits, then write vectors and catalog (see IndexStore.add_batch)."""
        self._embed(batch)
        if batch.photos or batch.failed:
            vectors = np.concatenate(batch.embedded) if batch.embedded else np.zeros((0, self.dim), np.float32)
            self.shards.add_batch(batch.photos, vectors, batch.failed, self.report.seconds)
        self.report.indexed += len(batch.photos)
        self.report.videos += sum(is_video(photo.path) for photo in batch.photos)
        self.report.indexed_paths += [photo.path for photo in batch.photos]
        self.report.candidates += batch.crops
        self.report.without_candidates += sum(not photo.crops for photo in batch.photos)
        self.report.failed += batch.failed
        self.report.read_in_part += batch.read_in_part
