"""The facade: index photos (localize -> binarize -> embed -> store) and search them by plate text."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from platesearch.binarize import binarize
from platesearch.index import IndexManifest, IndexStore, NewCrop
from platesearch.io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageReadError, absolute_path, file_sha256, read_image
from platesearch.model import PREPROCESSING_VERSION, PlateEmbedder, default_embedder
from platesearch.plates import normalize_plate
from platesearch.render import render_plate
from platesearch.scoring import DEFAULT_OCR_WEIGHT, DEFAULT_SEARCH_METHOD, SEARCH_METHODS, check_method, hybrid_scores
from platesearch.textmatch import best_reading, join_readings, text_similarities

__all__ = ["DEFAULT_OCR_WEIGHT", "DEFAULT_SEARCH_METHOD", "SEARCH_METHODS", "IndexReport", "PlateIndex", "SearchResult"]

# Indexing: crops per model call (measured 570 crops/s at 64 against 334 at 16); the vectors
# file and catalog are written when the crops waiting hold 5 % of the index or 10 s of work,
# so a large index is not rewritten for every batch and an interruption redoes little.
EMBED_BATCH = 64
COMMIT_FRACTION = 0.05
COMMIT_SECONDS = 10.0
# With workers=None (the CLI's default), files are decoded, localized and binarized in this
# many worker processes (the cores split between them: one thread each) while the main
# process embeds; jobs of fewer files run in-process.
DEFAULT_WORKERS = os.cpu_count() or 1
PARALLEL_MIN_FILES = 32
STAGES = ("hash", "decode", "localize", "binarize", "embed", "add", "commit")


@dataclass(frozen=True)
class SearchResult:
    """One photo of the ranking; `box` is the matching candidate's x, y, width, height."""

    rank: int
    path: str
    score: float
    box: tuple[int, int, int, int]
    crop_id: int
    reading: str | None = None  # the crop's OCR reading closest to the query, if it has any

    def to_json(self) -> dict:
        row = {"rank": self.rank, "path": self.path, "score": round(self.score, 6), "box": list(self.box)}
        if self.reading is not None:
            row["reading"] = self.reading
        return row


@dataclass
class IndexReport:
    """What one `add` did."""

    indexed: int = 0
    candidates: int = 0
    skipped: int = 0  # already in the index (same content hash)
    without_candidates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # seconds per stage; decode, localize and binarize are summed over the worker processes
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


@dataclass(frozen=True)
class _Job:
    path: str
    sha256: str
    size: int
    error: str | None = None  # the file could not even be read for hashing


@dataclass
class _Prepared:
    """A file after decode, localize and binarize: its candidates, or why it failed."""

    job: _Job
    crops: list[NewCrop]
    images: list[np.ndarray]  # binarized, one per crop
    error: str | None
    seconds: dict[str, float]


@dataclass(frozen=True)
class _Preparer:
    """The per-file work of indexing; picklable, so worker processes can run it."""

    crops_mode: bool
    ocr: bool
    max_pixels: int
    detector_max_side: int | None = None  # None: the localizer's default canvas

    def __call__(self, job: _Job) -> _Prepared:
        seconds: dict[str, float] = {}
        if job.error is not None:
            return _Prepared(job, [], [], job.error, seconds)
        started = time.perf_counter()
        try:
            image = read_image(job.path, max_pixels=self.max_pixels)
            seconds["decode"] = time.perf_counter() - started
            found = self._candidates(image)
            seconds["localize"] = time.perf_counter() - started - seconds["decode"]
            images = [binarize(crop) for _, crop in found]
        except ImageReadError as error:
            return _Prepared(job, [], [], error.reason, seconds)
        except (ValueError, cv2.error) as error:  # e.g. an image too small to binarize
            return _Prepared(job, [], [], f"cannot process: {error}", seconds)
        seconds["binarize"] = time.perf_counter() - started - seconds["decode"] - seconds["localize"]
        return _Prepared(job, [crop for crop, _ in found], images, None, seconds)

    def _candidates(self, image: np.ndarray) -> list[tuple[NewCrop, np.ndarray]]:
        # EasyOCR (torch) loads only when photos or OCR readings need it.
        if self.crops_mode:
            h, w = image.shape[:2]
            if not self.ocr:
                return [(NewCrop((0, 0, w, h)), image)]
            from platesearch.localize import read_crop

            readings, confidence = read_crop(image)
            return [(NewCrop((0, 0, w, h), join_readings(readings), confidence), image)]
        from platesearch.localize import DEFAULT_MAX_SIDE, localize

        found = localize(image, max_side=self.detector_max_side or DEFAULT_MAX_SIDE)
        return [(NewCrop(c.box, c.ocr_text, c.confidence, c.score), c.crop) for c in found]


@dataclass
class _Batch:
    """Prepared files waiting to be embedded and committed together."""

    photos: list[tuple[str, str, int, list[NewCrop]]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # binarized crops not embedded yet
    embedded: list[np.ndarray] = field(default_factory=list)  # their vectors, in crop order
    crops: int = 0

    def take(self, prepared: _Prepared) -> None:
        if prepared.error is not None:
            self.failed.append((prepared.job.path, prepared.error))
            return
        self.photos.append((prepared.job.path, prepared.job.sha256, prepared.job.size, prepared.crops))
        self.images += prepared.images
        self.crops += len(prepared.crops)

    def embed(self, embedder: PlateEmbedder) -> None:
        if self.images:
            self.embedded.append(embedder.embed(np.stack(self.images)))
            self.images = []

    def vectors(self, dim: int) -> np.ndarray:
        return np.concatenate(self.embedded) if self.embedded else np.zeros((0, dim), np.float32)


def _init_worker(threads: int) -> None:
    """Split the cores between the worker processes (their thread pools), and exit with the parent."""
    os.environ["PLATESEARCH_THREADS"] = str(threads)
    cv2.setNumThreads(threads)
    parent = os.getppid()

    def exit_when_orphaned() -> None:  # a killed indexer must not leave its workers behind
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()


def _prepare_all(preparer: _Preparer, jobs: Iterator[_Job], workers: int) -> Iterator[_Prepared]:
    """Results in job order; with workers, a bounded number of jobs run ahead in worker processes."""
    if workers <= 0:
        yield from map(preparer, jobs)
        return
    # spawn: the parent may hold TensorFlow's threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
    try:
        running: deque = deque()
        for job in jobs:
            running.append(pool.submit(preparer, job))
            if len(running) >= 4 * workers:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
    finally:  # on Ctrl-C or an error, files not started yet are dropped rather than waited for
        pool.shutdown(wait=True, cancel_futures=True)


def iter_image_files(paths: Iterable[Path | str], unreadable: list[tuple[str, str]] | None = None) -> Iterator[Path]:
    """Image files under `paths` (files as given, folders recursively), absolute, sorted per folder.

    Symbolic-link loops are walked once. Folders that cannot be listed are skipped and, if
    `unreadable` is given, appended to it as (folder, reason).
    """

    def note_unreadable(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append((str(error.filename), f"cannot read folder: {error.strerror or error}"))

    seen_dirs: set[Path] = set()
    for root in paths:
        root = absolute_path(root)
        if root.is_file() or not root.exists():
            yield root  # a missing file is reported by the indexer, not silently dropped
            continue
        for folder, subdirs, files in os.walk(root, followlinks=True, onerror=note_unreadable):
            real = Path(folder).resolve()
            if real in seen_dirs:
                subdirs[:] = []
                continue
            seen_dirs.add(real)
            subdirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    yield Path(folder) / name


class PlateIndex:
    """A searchable collection of photos in one directory. Use `create` or `open`."""

    def __init__(self, store: IndexStore, embedder: PlateEmbedder) -> None:
        self.store = store
        self.embedder = embedder
        self.max_pixels = DEFAULT_MAX_PIXELS  # images declaring more pixels are refused

    @staticmethod
    def _manifest(embedder: PlateEmbedder) -> IndexManifest:
        return IndexManifest(embedder.model_id, embedder.dim, PREPROCESSING_VERSION)

    @classmethod
    def create(
        cls, directory: Path | str, embedder: PlateEmbedder | None = None, vector_index: str | None = None
    ) -> PlateIndex:
        """Open an index for writing, creating it if needed (one writer at a time).

        vector_index: "exact", "ivf" or "auto" (exact up to vectors.AUTO_IVF_THRESHOLD crops);
        None keeps the index's current choice ("auto" for a new one).
        """
        embedder = embedder or default_embedder()
        plate_index = cls(IndexStore.create_or_open(directory, cls._manifest(embedder)), embedder)
        if vector_index is not None:
            plate_index.set_vector_index(vector_index)
        return plate_index

    def set_vector_index(self, choice: str) -> None:
        """Switch between exact and approximate (IVF) search; stored vectors are converted, not re-embedded."""
        self.store.set_vector_index(choice)

    @classmethod
    def open(cls, directory: Path | str, embedder: PlateEmbedder | None = None) -> PlateIndex:
        """Open an existing index for queries (read-only; allowed while another process writes)."""
        embedder = embedder or default_embedder()
        return cls(IndexStore.open_readonly(directory, cls._manifest(embedder)), embedder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> PlateIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing
    def add(
        self,
        paths: Iterable[Path | str],
        crops: bool = False,
        ocr: bool = True,
        progress: Callable[[int, int, IndexReport], None] | None = None,
        workers: int | None = 0,
        detector_max_side: int | None = None,
    ) -> IndexReport:
        """Index image files and folders. `crops=True`: the images are plate crops (no localization).

        Photos always get EasyOCR's readings of each candidate (the localizer reads them);
        crops get them unless `ocr=False` (faster, for the "embedding" search method only).
        `progress`, if given, is called with (files done, files total, report) after each file.
        `workers`: processes that decode, localize and binarize while this one embeds; 0 (the
        default) does everything in this process, None picks one per core for jobs of at
        least PARALLEL_MIN_FILES files. Workers are spawned fresh processes: like any use of
        multiprocessing, a script that asks for them must keep its top-level code under
        `if __name__ == "__main__":`, or each worker runs the script again.
        `detector_max_side`: the text detector's canvas (default localize.DEFAULT_MAX_SIDE, 640;
        512 is about 1.5x faster on 1280x720 photos with the same recall, see BENCHMARKS.md).
        """
        unreadable_folders: list[tuple[str, str]] = []
        files = list(iter_image_files(paths, unreadable_folders))
        if workers is None:
            workers = DEFAULT_WORKERS if len(files) >= PARALLEL_MIN_FILES else 0
        report = IndexReport()
        batch = _Batch()
        prepared_count = 0
        last_commit = time.perf_counter()
        jobs = self._new_jobs(files, report)
        preparer = _Preparer(crops, ocr, self.max_pixels, detector_max_side)
        for prepared in _prepare_all(preparer, jobs, workers):
            for stage, seconds in prepared.seconds.items():
                report.seconds[stage] += seconds
            batch.take(prepared)
            if len(batch.images) >= EMBED_BATCH:
                self._embed(batch, report)
            waiting = batch.crops + len(batch.photos) + len(batch.failed)
            if waiting >= max(EMBED_BATCH, COMMIT_FRACTION * self.store.vectors.ntotal) or (
                time.perf_counter() - last_commit >= COMMIT_SECONDS
            ):
                self._commit(batch, report)
                batch = _Batch()
                last_commit = time.perf_counter()
            prepared_count += 1
            if progress:
                progress(prepared_count + report.skipped, len(files), report)
        self._commit(batch, report)
        report.failed += unreadable_folders  # reported, not recorded: a folder is not a photo
        return report

    def _new_jobs(self, files: list[Path], report: IndexReport) -> Iterator[_Job]:
        """Files to prepare, hashed here: content already indexed or seen in this run is skipped."""
        seen: set[str] = set()
        for path in files:
            started = time.perf_counter()
            try:
                sha256, size = file_sha256(path), path.stat().st_size
            except OSError as error:
                yield _Job(str(path), "", 0, f"cannot read file: {error.strerror or error}")
                continue
            finally:
                report.seconds["hash"] += time.perf_counter() - started
            if sha256 in seen or self.store.photo_by_hash(sha256) is not None:
                report.skipped += 1
                continue
            seen.add(sha256)
            yield _Job(str(path), sha256, size)

    def _embed(self, batch: _Batch, report: IndexReport) -> None:
        started = time.perf_counter()
        batch.embed(self.embedder)
        report.seconds["embed"] += time.perf_counter() - started

    def _commit(self, batch: _Batch, report: IndexReport) -> None:
        """Embed what waits, then write vectors and catalog (see IndexStore.add_batch)."""
        self._embed(batch, report)
        if batch.photos or batch.failed:
            self.store.add_batch(batch.photos, batch.vectors(self.embedder.dim), batch.failed, report.seconds)
        report.indexed += len(batch.photos)
        report.candidates += batch.crops
        report.without_candidates += sum(not crops for *_, crops in batch.photos)
        report.failed += batch.failed

    def remove(self, paths: Iterable[Path | str]) -> int:
        """Forget photos (by the path they were indexed under); returns how many were removed."""
        return self.store.remove([str(absolute_path(p)) for p in paths])

    # -- searching
    def search(
        self, text: str, k: int = 3, method: str = DEFAULT_SEARCH_METHOD, ocr_weight: float = DEFAULT_OCR_WEIGHT
    ) -> list[SearchResult]:
        """The k photos most likely to show plate `text`, best first (a photo counts once).

        method: "embedding" (cosine similarity of the query render and the crops), "ocr"
        (similarity of the query to each crop's best OCR reading, confusable characters
        cheaper), or "hybrid" (both, an exact reading first: `scoring.hybrid_scores`).
        """
        check_method(method)
        plate = normalize_plate(text)
        pool = max(64, 16 * k)  # crops considered: enough that k distinct photos survive grouping
        cosines: dict[int, float] = {}
        if method in ("embedding", "hybrid"):
            query = self.embedder.embed(render_plate(plate)[None])[0]
            found_scores, found_ids = self.store.search(query[None], k=pool)
            cosines = {int(i): float(s) for s, i in zip(found_scores[0], found_ids[0], strict=True) if i >= 0}
        candidates = list(cosines)
        if method in ("ocr", "hybrid"):
            readings = self.store.ocr_readings(plate)
            similarity = text_similarities(plate, [reading for _, reading in readings])
            best_read = [readings[i][0] for i in np.argsort(-similarity, kind="stable")[:pool]]
            candidates += [i for i in best_read if i not in cosines]
        records = self.store.crops(candidates)
        candidates = [i for i in candidates if i in records]
        read = {i: best_reading(plate, records[i].ocr_text) for i in candidates}
        if method == "embedding":
            scores = {i: cosines[i] for i in candidates}
        elif method == "ocr":  # every candidate scored from its own readings, whichever way it was found
            scores = {i: read[i][0] for i in candidates if read[i][1] is not None}
        else:
            missing = [i for i in candidates if i not in cosines]
            cosines.update(zip(missing, self.store.cosine(query, missing), strict=True))
            fused = hybrid_scores(
                np.array([cosines[i] for i in candidates]),
                np.array([read[i][0] for i in candidates]),
                plate,
                ocr_weight,
            )
            scores = dict(zip(candidates, fused.tolist(), strict=True))
        ranked_crops = sorted(scores, key=lambda i: -scores[i])
        best: dict[str, int] = {}
        for crop_id in ranked_crops:
            if records[crop_id].photo_path not in best:
                best[records[crop_id].photo_path] = crop_id
            if len(best) == k:
                break
        return [
            SearchResult(rank, path, scores[crop_id], records[crop_id].box, crop_id, read[crop_id][1])
            for rank, (path, crop_id) in enumerate(best.items(), start=1)
        ]

    def stats(self) -> dict[str, int | str]:
        return {**self.store.stats(), "model": self.embedder.model_id[:12], "directory": str(self.store.directory)}
