"""The facade: index photos (localize -> binarize -> embed -> store) and search them by plate text."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
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
from platesearch.textmatch import text_similarity

PHOTOS_PER_BATCH = 16
SEARCH_METHODS = ("embedding", "ocr", "hybrid")
# Chosen by measurement (experiments/RESULTS.md): the hybrid beat embedding and OCR alone on
# held-out plates; its OCR weight was tuned on the US validation plates only.
DEFAULT_SEARCH_METHOD = "hybrid"
DEFAULT_OCR_WEIGHT = 0.4


@dataclass(frozen=True)
class SearchResult:
    """One photo of the ranking; `box` is the matching candidate's x, y, width, height."""

    rank: int
    path: str
    score: float
    box: tuple[int, int, int, int]
    crop_id: int

    def to_json(self) -> dict:
        return {"rank": self.rank, "path": self.path, "score": round(self.score, 6), "box": list(self.box)}


@dataclass
class IndexReport:
    """What one `add` did."""

    indexed: int = 0
    candidates: int = 0
    skipped: int = 0  # already in the index (same content hash)
    without_candidates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def iter_image_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Image files under `paths` (files as given, folders recursively), absolute, sorted per folder.

    Symbolic-link loops are walked once; unreadable folders are skipped.
    """
    seen_dirs: set[Path] = set()
    for root in paths:
        root = absolute_path(root)
        if root.is_file() or not root.exists():
            yield root  # a missing file is reported by the indexer, not silently dropped
            continue
        for folder, subdirs, files in os.walk(root, followlinks=True):
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
    def add(self, paths: Iterable[Path | str], crops: bool = False, ocr: bool = False, progress=None) -> IndexReport:
        """Index image files and folders. `crops=True`: the images are plate crops (no localization).

        Photos always get EasyOCR's reading of each candidate (the localizer reads them);
        crops get one only with `ocr=True` (needed by the "ocr" and "hybrid" search methods).
        `progress`, if given, is called with (files done, files total, report) after each batch.
        """
        files = list(iter_image_files(paths))
        report = IndexReport()
        for start in range(0, len(files), PHOTOS_PER_BATCH):
            self._add_batch(files[start : start + PHOTOS_PER_BATCH], crops, ocr, report)
            if progress:
                progress(min(start + PHOTOS_PER_BATCH, len(files)), len(files), report)
        return report

    def _add_batch(self, files: list[Path], crops_mode: bool, ocr: bool, report: IndexReport) -> None:
        photos: list[tuple[str, str, int, list[NewCrop]]] = []
        images: list[np.ndarray] = []
        failed: list[tuple[str, str]] = []
        hashes_in_batch: set[str] = set()
        for path in files:
            try:
                sha256 = file_sha256(path)
                size = path.stat().st_size
            except OSError as error:
                failed.append((str(path), f"cannot read file: {error.strerror or error}"))
                continue
            if sha256 in hashes_in_batch or self.store.photo_by_hash(sha256) is not None:
                report.skipped += 1
                continue
            try:
                image = read_image(path, max_pixels=self.max_pixels)
                found = self._candidates(image, crops_mode, ocr)
            except ImageReadError as error:
                failed.append((str(path), error.reason))
                continue
            except (ValueError, cv2.error) as error:  # e.g. an image too small to binarize
                failed.append((str(path), f"cannot process: {error}"))
                continue
            hashes_in_batch.add(sha256)
            photos.append((str(path), sha256, size, [c for c, _ in found]))
            images += [binarized for _, binarized in found]
            report.without_candidates += not found
        vectors = self.embedder.embed(np.stack(images)) if images else np.zeros((0, self.embedder.dim), np.float32)
        self.store.add_batch(photos, vectors, failed)
        report.indexed += len(photos)
        report.candidates += len(images)
        report.failed += failed

    def _candidates(self, image: np.ndarray, crops_mode: bool, ocr: bool) -> list[tuple[NewCrop, np.ndarray]]:
        # EasyOCR (torch) loads only when photos or OCR readings need it.
        if crops_mode:
            h, w = image.shape[:2]
            reading: tuple[str | None, float | None] = (None, None)
            if ocr:
                from platesearch.localize import read_text

                reading = read_text(image)
            return [(NewCrop((0, 0, w, h), *reading), binarize(image))]
        from platesearch.localize import localize

        return [(NewCrop(c.box, c.text, c.confidence, c.score), binarize(c.crop)) for c in localize(image)]

    def remove(self, paths: Iterable[Path | str]) -> int:
        """Forget photos (by the path they were indexed under); returns how many were removed."""
        return self.store.remove([str(absolute_path(p)) for p in paths])

    # -- searching
    def search(
        self, text: str, k: int = 3, method: str = DEFAULT_SEARCH_METHOD, ocr_weight: float = DEFAULT_OCR_WEIGHT
    ) -> list[SearchResult]:
        """The k photos most likely to show plate `text`, best first (a photo counts once).

        method: "embedding" (cosine similarity of the query render and the crops), "ocr"
        (edit-distance similarity of the query and each crop's OCR reading), or "hybrid"
        (`(1 - ocr_weight) * cosine + ocr_weight * OCR similarity`).
        """
        if method not in SEARCH_METHODS:
            raise ValueError(f"unknown search method {method!r}; choose from {', '.join(SEARCH_METHODS)}")
        plate = normalize_plate(text)
        pool = max(64, 16 * k)  # crops considered: enough that k distinct photos survive grouping
        scores: dict[int, float] = {}
        if method in ("embedding", "hybrid"):
            query = self.embedder.embed(render_plate(plate)[None])
            found_scores, found_ids = self.store.search(query, k=pool)
            scores = {int(i): float(s) for s, i in zip(found_scores[0], found_ids[0], strict=True) if i >= 0}
        if method in ("ocr", "hybrid"):
            readings = {crop_id: text_similarity(plate, ocr_text) for crop_id, ocr_text in self.store.ocr_readings(plate)}
            if method == "ocr":
                scores = readings
            else:
                best_read = sorted(readings, key=lambda i: -readings[i])[:pool]
                missing = [i for i in best_read if i not in scores]
                scores.update(zip(missing, self.store.cosine(query[0], missing), strict=True))
                scores = {i: (1 - ocr_weight) * s + ocr_weight * readings.get(i, 0.0) for i, s in scores.items()}
        ranked_crops = sorted(scores, key=lambda i: -scores[i])
        records = self.store.crops(ranked_crops[:pool])
        best: dict[str, int] = {}
        for crop_id in ranked_crops:
            record = records.get(crop_id)
            if record is not None and record.photo_path not in best:
                best[record.photo_path] = crop_id
            if len(best) == k:
                break
        return [
            SearchResult(rank, path, scores[crop_id], records[crop_id].box, crop_id)
            for rank, (path, crop_id) in enumerate(best.items(), start=1)
        ]

    def stats(self) -> dict[str, int | str]:
        return {**self.store.stats(), "model": self.embedder.model_id[:12], "directory": str(self.store.directory)}
