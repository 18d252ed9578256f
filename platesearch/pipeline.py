"""The facade: index photos (localize -> binarize -> embed -> store) and search them by plate text.

It only composes: `ingest` does the indexing, `workers` (or `distributed`, on Ray) decides
where, `search` scores, `store` keeps one shard's vectors and catalog consistent, `shards` holds
an index's shards together. The model loads on first use, so opening an index to count, remove
or convert never imports TensorFlow.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from platesearch.config import DEFAULT_SHARD_CROPS, ENGINES
from platesearch.ingest import IndexReport, Ingest, Preparer, Progress
from platesearch.media import DEFAULT_MAX_PIXELS, absolute_path, file_sha256, iter_image_files
from platesearch.model import DEFAULT_MODEL_DIR, MANIFEST_FILE, PREPROCESSING_VERSION, ModelManifest, PlateEmbedder
from platesearch.patterns import PlatePattern, is_pattern
from platesearch.plates import normalize_plate
from platesearch.records import ALL_TIME, Box, SearchResult, StoredCrop, TimeWindow
from platesearch.render import render_plate
from platesearch.scoring import DEFAULT_OCR_WEIGHT, DEFAULT_SEARCH_METHOD
from platesearch.search import search_pattern, search_store
from platesearch.shards import ShardSet, merge_results
from platesearch.store import IndexManifest, IndexStore
from platesearch.video import DEFAULT_SAMPLE_FPS
from platesearch.views import VIEWS

# An index records how its vectors were made: the model's preprocessing of each image, and each
# crop's vector the mean of VIEWS views (views.py). Vectors made otherwise are not comparable.
INDEX_PREPROCESSING_VERSION = f"{PREPROCESSING_VERSION}, mean of {VIEWS} views"

# With workers=None (the CLI's default), files are decoded, localized and binarized in this
# many worker processes (the cores split between them: one thread each) while the main
# process embeds; jobs of fewer files run in-process.
DEFAULT_WORKERS = os.cpu_count() or 1
PARALLEL_MIN_FILES = 32


class PlateIndex:
    """A searchable collection of photos in one directory. Use `create` or `open`."""

    def __init__(self, shards: ShardSet, embedder: PlateEmbedder | None = None) -> None:
        self.shards = shards
        self._embedder = embedder
        self.max_pixels = DEFAULT_MAX_PIXELS  # images declaring more pixels are refused

    @property
    def embedder(self) -> PlateEmbedder:
        """The model, loaded on first use (the shipped one unless another was given)."""
        if self._embedder is None:
            from platesearch.model import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    @staticmethod
    def manifest_for(embedder: PlateEmbedder | None) -> IndexManifest:
        """What an index of this model records (the shipped model's, read without loading it, for None)."""
        if embedder is not None:
            return IndexManifest(embedder.model_id, embedder.dim, INDEX_PREPROCESSING_VERSION)
        model = ModelManifest.read(DEFAULT_MODEL_DIR / MANIFEST_FILE)  # checked against the weights on load
        return IndexManifest(model.sha256, model.embedding_dim, INDEX_PREPROCESSING_VERSION)

    @classmethod
    def create(
        cls,
        directory: Path | str,
        embedder: PlateEmbedder | None = None,
        vector_index: str | None = None,
        existing_only: bool = False,
        shard_crops: int = DEFAULT_SHARD_CROPS,
    ) -> PlateIndex:
        """Open an index for writing, creating it if needed (one writer at a time).

        vector_index: "exact", "ivf" or "auto" (exact up to vectors.AUTO_IVF_THRESHOLD crops);
        None keeps the index's current choice ("auto" for a new one). `existing_only`: refuse
        a folder that is not an index yet (for changes to an index, such as remove).
        `shard_crops`: new photos go to a new shard once the last holds this many crops (`shards`).
        """
        shards = ShardSet.create_or_open(directory, cls.manifest_for(embedder), existing_only, shard_crops)
        plate_index = cls(shards, embedder)
        if vector_index is not None:
            plate_index.set_vector_index(vector_index)
        return plate_index

    @classmethod
    def open(
        cls, directory: Path | str, embedder: PlateEmbedder | None = None, readings_in_memory: bool = False
    ) -> PlateIndex:
        """Open an existing index for queries (read-only; allowed while another process writes).
        `readings_in_memory`: for a long-running reader such as `serve`, keep the OCR readings
        in memory (`store.IndexStore.open_readonly`)."""
        shards = ShardSet.open_readonly(directory, cls.manifest_for(embedder), readings_in_memory)
        return cls(shards, embedder)

    @property
    def store(self) -> IndexStore:
        """The shard new photos go to (the only one of an index that was never sharded)."""
        return self.shards.writer

    def refresh(self) -> bool:
        """For a long-running reader: reopen the index if a writer committed since it was
        opened (or last refreshed), so queries see the new photos. True if it reopened."""
        if not self.shards.changed_since_open():
            return False
        fresh = ShardSet.open_readonly(self.shards.root, self.shards.manifest, self.shards.readings_in_memory)
        self.shards, stale = fresh, self.shards
        stale.close()
        return True

    def set_vector_index(self, choice: str) -> None:
        """Switch between exact and approximate (IVF) search; stored vectors are converted, not re-embedded."""
        self.shards.set_vector_index(choice)

    def compact(self) -> int:
        """Merge every shard into the first; returns how many shards were merged (`shards.ShardSet.compact`)."""
        self.store.check_writable()
        return self.shards.compact()

    def close(self) -> None:
        self.shards.close()

    def __enter__(self) -> PlateIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self,
        paths: Iterable[Path | str] | Path | str,
        crops: bool = False,
        ocr: bool = True,
        progress: Progress | None = None,
        workers: int | None = 0,
        detector_max_side: int | None = None,
        stop: threading.Event | None = None,
        video_fps: float = DEFAULT_SAMPLE_FPS,
        engine: str = "local",
        ray_address: str | None = None,
    ) -> IndexReport:
        """Index image and video files and folders. `crops=True`: the images are plate crops (no
        localization, no videos).

        A video's frames are sampled `video_fps` times a second, near-repeats skipped, each frame
        localized like a photo, and the crops of one plate in consecutive frames numbered as one
        sighting (`sightings.py`); a video cut short is indexed up to its last good frame.

        Photos always get EasyOCR's readings of each candidate (the localizer reads them);
        crops get them unless `ocr=False` (faster, for the "embedding" search method only).
        `progress`, if given, is called with (files done, files total, report) as files finish.
        `workers`: processes that decode, localize and binarize while this one embeds; 0 (the
        default) does everything in this process, None picks one per core for jobs of at
        least PARALLEL_MIN_FILES files. Workers are spawned fresh processes: like any use of
        multiprocessing, a script that asks for them must keep its top-level code under
        `if __name__ == "__main__":`, or each worker runs the script again.
        `detector_max_side`: the text detector's smallest canvas (default localize.DEFAULT_MAX_SIDE,
        640; photos are seen at 0.75 of their size or more, scaled by the same ratio; BENCHMARKS.md).
        `stop`: once set, the run ends after the file at hand; what is done stays committed.
        `engine`: "local", or "ray": the files are indexed by Ray actors, one shard each
        (`distributed.py`), on the cluster at `ray_address` or a local one; `workers` is then the
        number of actors (None: one per CPU of the cluster).
        """
        self.store.check_writable()
        if isinstance(paths, str | Path):  # one path, not the characters of its name
            paths = [paths]
        unreadable: list[tuple[str, str]] = []
        not_images: dict[str, int] = {}
        files = list(iter_image_files(paths, unreadable, not_images, videos=not crops))
        if workers is None and engine == "local":
            workers = DEFAULT_WORKERS if len(files) >= PARALLEL_MIN_FILES else 0
        if video_fps <= 0:
            raise ValueError(f"video_fps must be above 0, got {video_fps}")
        if engine == "ray":
            from platesearch.distributed import ShardOptions, index_with_ray

            options = ShardOptions(crops, ocr, self.max_pixels, detector_max_side, video_fps)
            report = index_with_ray(self.shards, files, options, ray_address, workers or None, progress, stop)
        elif engine == "local":
            preparer = Preparer(crops, ocr, self.max_pixels, detector_max_side, video_fps)
            ingest = Ingest(self.shards, lambda images: self.embedder.embed(images), self._dim(), progress)
            report = ingest.run(files, preparer, workers, stop)
        else:
            raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
        report.failed += unreadable  # reported, not recorded: folders, pipes, names the catalog cannot store
        report.not_images = not_images
        return report

    def _dim(self) -> int:
        return self.shards.manifest.embedding_dim

    def remove(self, paths: Iterable[Path | str]) -> int:
        """Forget photos (by the path they were indexed under); returns how many were removed."""
        return self.shards.remove([str(absolute_path(p)) for p in paths])

    def contains(self, path: Path | str) -> bool:
        """Whether a file is recorded under this path (indexed or failed)."""
        return self.shards.known_file(str(absolute_path(path))) is not None

    def indexed_path(self, path: Path | str) -> str | None:
        """The path this file is indexed under: its own, or another with the same content; None if neither."""
        path = absolute_path(path)
        found = self.shards.known_file(str(path))
        if found is not None and found[1].status == "ok":
            return str(path)
        try:
            return self.shards.photo_by_hash(file_sha256(path))
        except OSError:
            return None

    def search(
        self,
        text: str,
        k: int = 3,
        method: str = DEFAULT_SEARCH_METHOD,
        ocr_weight: float = DEFAULT_OCR_WEIGHT,
        min_score: float = 0.0,
        window: TimeWindow = ALL_TIME,
    ) -> list[SearchResult]:
        """The k photos most likely to show plate `text`, best first (see `search.search_store`);
        a text with `?` or `*` is a pattern (`search.search_pattern`; `method` does not apply).
        Photos scoring below `min_score` are left out: an empty list means "not found". With a
        `window` (`TimeWindow.parse`), only photos taken inside it count."""
        embed = cache(self.embed_plate)  # each shard asks for the same renders
        if is_pattern(text):
            pattern = PlatePattern.parse(text)
            rankings = [search_pattern(store, pattern, embed, k, window) for store in self.shards.stores]
        else:
            plate = normalize_plate(text)
            rankings = [
                search_store(store, plate, embed, k, method, ocr_weight, window) for store in self.shards.stores
            ]
        kept = [result for result in merge_results(rankings, k) if result.score >= min_score]
        return [replace(result, rank=rank) for rank, result in enumerate(kept, start=1)]

    def warm_up(self) -> None:
        """Load the model and run a query once (a reader keeping readings in memory loads them
        then), so a server's first query is as fast as the rest."""
        self.search("AB1234", k=1)

    def crop(self, crop_id: int) -> StoredCrop | None:
        """One stored crop (its photo path and box), or None if the index has no such crop."""
        return self.shards.crop(crop_id)

    def embed_plate(self, plate: str) -> np.ndarray:
        """The unit vector of a normalized plate text's render (what a query is compared with)."""
        return self.embedder.embed(render_plate(plate)[None])[0]

    def crops_of(self, paths: list[str]) -> dict[int, StoredCrop]:
        """Every stored crop of these photos, by crop id."""
        return self.shards.crops_of(paths)

    def cosine(self, vector: np.ndarray, crop_ids: list[int]) -> list[float]:
        """Cosine of a unit vector to the stored vectors of some crops."""
        return self.shards.cosine(vector, crop_ids)

    def stats(self) -> dict[str, int | str]:
        return {
            **self.shards.stats(),
            "model": self.shards.manifest.model_sha256[:12],
            "directory": str(self.shards.root),
        }

    def crop_boxes(self) -> list[tuple[str, Box]]:
        """(photo path, box) of every stored crop: where the localizer found candidates."""
        return self.shards.crop_boxes()

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that could not be indexed."""
        return self.shards.failures()

    def has_readings(self) -> bool:
        """False for an index of crops indexed with --no-ocr: "hybrid" then ranks by the embedding alone."""
        return self.shards.has_readings()
