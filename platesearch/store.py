"""An index directory: FAISS vectors beside the SQLite catalog and a manifest, kept consistent.

    INDEX_DIR/manifest.json     model hash, embedding dimension, preprocessing version, vector index choice
    INDEX_DIR/catalog.sqlite    photos, their crops and their readings (`catalog.py`)
    INDEX_DIR/vectors.faiss     L2-normalized crop embeddings keyed by crop id (inner product = cosine),
                                exact or IVF (see `vectors`; IVF-SQ8 with its error codes is an .npz
                                archive under this name): the base
    INDEX_DIR/vectors-NNNNNN.faiss  segments: the vectors of one commit each (exact, float), applied
                                on the base in order when the index is opened

A commit writes only its own vectors, as a new segment, so its cost does not grow with the
index. The base is rewritten with everything and the segments deleted when the vector index
changes kind, when MAX_SEGMENTS segments are there, and (inverted files) when the segments
would hold more than SEGMENT_SHARE of the vectors: opening assigns a segment's vectors to
their lists (about 14 us a vector on one core), so the share bounds what opening adds, and a
base rewrite comes once per SEGMENT_SHARE of growth. Removed and replaced crops are not
rewritten out of the files: the catalog no longer lists them, so opening drops them.

Crash safety: each batch writes its segment (or the base) to a temporary file renamed into
place, then commits its catalog transaction (SQLite in WAL mode). Vectors whose crop is not
committed are dropped when the index is opened, so catalog and vectors always agree; a later
file's vector for a crop id replaces an earlier one's. No pickle anywhere: JSON, SQLite and
FAISS's own binary format.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from platesearch import vectors as vector_search
from platesearch.catalog import Catalog, PhotoRow
from platesearch.readings_index import CandidateReadings, ReadingsIndex

FORMAT_VERSION = 2  # 2: vector segments beside the base (a version-1 reader would miss them)
MANIFEST = "manifest.json"
CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
SEGMENT = re.compile(r"vectors-(\d{6})\.faiss")
MAX_SEGMENTS = 64  # the base is rewritten when a commit would add one more segment than this
SEGMENT_SHARE = 0.05  # of an inverted file's vectors (as float bytes) that segments may hold
LOCK = "write.lock"
SHARD_LIST = "shards.json"  # an index's further shards (`shards.py`), ordinary index folders under SHARDS_DIR
SHARDS_DIR = "shards"
OWN_FILES = frozenset(
    {CATALOG, f"{CATALOG}-wal", f"{CATALOG}-shm", f"{CATALOG}-journal", VECTORS, LOCK, SHARD_LIST, SHARDS_DIR}
)
# Below this much free space, an I/O error of SQLite is taken for a full disk.
ALMOST_FULL_BYTES = 1 << 20
# Up to this many crops the OCR search scores every reading; above, only trigram candidates
# (the full scan grows with the index: it took about 10 ms per query at 10,000 crops).
OCR_FULL_SCAN_LIMIT = 2_000


class IndexStoreError(RuntimeError):
    """The index directory is missing, belongs to another model, or is locked by a writer."""


@dataclass(frozen=True)
class IndexManifest:
    model_sha256: str
    embedding_dim: int
    preprocessing_version: str
    format_version: int = FORMAT_VERSION
    vector_index: str = "auto"  # one of vectors.CHOICES
    first_crop_id: int | None = None  # a shard's: its crop ids start here (None: a random base)

    def check_compatible(self, other: IndexManifest, where: Path) -> None:
        if (self.model_sha256, self.embedding_dim, self.preprocessing_version) != (
            other.model_sha256,
            other.embedding_dim,
            other.preprocessing_version,
        ):
            raise IndexStoreError(
                f"the index at {where} was built with model {self.model_sha256[:12]} "
                f"({self.embedding_dim}-d, {self.preprocessing_version}); the loaded model is "
                f"{other.model_sha256[:12]} ({other.embedding_dim}-d, {other.preprocessing_version}). "
                "Embeddings of different models cannot be compared: re-index into a new directory."
            )


def segment_paths(directory: Path) -> list[Path]:
    """The vector segments of an index directory, oldest first."""
    found = [(int(m.group(1)), p) for p in directory.glob("vectors-*.faiss") if (m := SEGMENT.fullmatch(p.name))]
    return [path for _, path in sorted(found)]


def read_vectors(directory: Path, attempts: int = 5) -> faiss.Index | None:
    """The base vectors file with every segment applied, oldest first (a segment's vector for a
    crop id replaces the one stored before it); None without a base. RuntimeError names an
    unreadable file.

    A writer may take the segments into a new base meanwhile: read again when the base was
    replaced during the read or a listed segment is gone."""
    base = directory / VECTORS
    for _ in range(attempts):
        before = _identity(base)
        if before is None:
            return None
        try:
            index = _read_base_and_segments(directory)
        except FileNotFoundError:
            continue
        if _identity(base) == before:
            return index
    raise RuntimeError(f"the vectors of {directory} changed on every one of {attempts} reads")


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _read_base_and_segments(directory: Path) -> faiss.Index:
    index = _read(directory / VECTORS)
    largest = int(vector_search.stored_ids(index).max(initial=-1))
    for path in segment_paths(directory):
        ids, vectors = vector_search.stored_vectors(_read(path))
        if not len(ids):
            continue
        if ids.min() <= largest:  # an id stored before (reused after a removal): the newer vector wins
            index.remove_ids(ids)
        index.add_with_ids(vectors, ids)
        largest = max(largest, int(ids.max()))
    return index


def _read(path: Path) -> faiss.Index:
    try:
        return vector_search.read(str(path))
    except RuntimeError as error:
        if not path.exists():  # deleted since it was listed
            raise FileNotFoundError(path) from None
        raise RuntimeError(f"{path.name}: {str(error).splitlines()[0]}") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file whole or not at all. The temporary file is created afresh, never through a
    link planted in its place; on any error (a full disk) it is removed and the old file stays."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_disk_full(error: BaseException, directory: Path) -> bool:
    """An OSError for a full disk or quota, SQLite's own report of one, or an I/O error of
    SQLite's (its shared-memory file cannot grow) on a disk with almost no space left."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    if not isinstance(error, sqlite3.OperationalError):
        return False
    if "disk is full" in str(error):
        return True
    try:
        space = os.statvfs(directory)
    except OSError:
        return False
    return "disk I/O error" in str(error) and space.f_bavail * space.f_frsize < ALMOST_FULL_BYTES


def disk_full_error(directory: Path) -> IndexStoreError:
    return IndexStoreError(
        f"the disk holding {directory} is full: the index keeps what was committed before this "
        "batch; free some space and run the same command again to go on"
    )


@contextmanager
def disk_full_as_error(directory: Path) -> Iterator[None]:
    """Turn a full disk while writing the index into one clear IndexStoreError. What was
    committed before stays: temporary files are removed and the catalog's transaction rolls back."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as error:
        if not is_disk_full(error, directory):
            raise
        raise disk_full_error(directory) from None


class CropIds:
    """A set of crop ids kept as one sorted int64 array: 8 bytes a crop where a Python set of
    ints takes about 60 (a 1M-crop reader kept 58 MB more, BENCHMARKS.md "Shards")."""

    def __init__(self, crop_ids: Iterable[int] | np.ndarray = ()) -> None:
        ids = crop_ids if isinstance(crop_ids, np.ndarray) else np.fromiter(crop_ids, np.int64)
        self.ids = ids if np.all(ids[1:] > ids[:-1]) else np.unique(ids)  # sorted and unique already: kept

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, crop_id: int) -> bool:
        at = int(np.searchsorted(self.ids, crop_id))
        return at < len(self.ids) and self.ids[at] == crop_id

    def among(self, crop_ids: np.ndarray) -> np.ndarray:
        """Which of `crop_ids` are in the set (a boolean mask). A binary search per id: np.isin
        sorts both arrays (6 ms per query at 1M crops, where this takes 0.1 ms)."""
        if not len(self.ids):
            return np.zeros(len(crop_ids), bool)
        at = np.minimum(np.searchsorted(self.ids, crop_ids), len(self.ids) - 1)
        return self.ids[at] == crop_ids

    def add(self, crop_ids: np.ndarray) -> None:
        new = np.unique(np.asarray(crop_ids, np.int64))
        if len(new) and (not len(self.ids) or new[0] > self.ids[-1]):  # a commit's new ids: appended
            self.ids = np.concatenate([self.ids, new])  # (np.union1d took 0.29 s at 1M crops)
        else:
            self.ids = np.union1d(self.ids, new)

    def discard(self, crop_ids: Iterable[int]) -> None:
        self.ids = np.setdiff1d(self.ids, np.fromiter(crop_ids, np.int64), assume_unique=True)


class IndexStore:
    """Vectors, catalog and manifest of one index directory."""

    def __init__(self, directory: Path, manifest: IndexManifest, writable: bool, repair: bool = False) -> None:
        """`repair` (a writer, from `platesearch verify --repair`): accept a missing vectors file
        and forget the photos it held, instead of refusing the damaged index."""
        self.directory = directory
        self.manifest = manifest
        self.writable = writable
        self._lock_handle = None
        self.readings_in_memory = False  # a long-running reader's choice (open_readonly)
        self._readings_index: ReadingsIndex | None = None
        names = [MANIFEST, CATALOG, VECTORS, LOCK] + [p.name for p in segment_paths(directory)]
        linked = [name for name in names if (directory / name).is_symlink()]
        if linked:  # a planted link would send writes outside the index, or answers from another index
            raise IndexStoreError(f"{directory} is not a safe index: {', '.join(linked)} is a symbolic link")
        if writable:
            self._acquire_write_lock()
        try:
            self.catalog = Catalog(directory / CATALOG, writable)
            self.opened_version = self.catalog.data_version()  # before loading: a commit meanwhile shows as a change
            self.visible_ids = CropIds()  # crop ids of this store's view: those it has vectors for
            self.vectors = vector_search.prepare_for_search(self._load_consistent_vectors(writable, repair))
        except (sqlite3.DatabaseError, RuntimeError, UnicodeDecodeError, OSError) as error:  # faiss: RuntimeError
            if isinstance(error, IndexStoreError):
                raise
            self.close()
            if is_disk_full(error, directory):
                raise disk_full_error(directory) from None
            if isinstance(error, OSError):
                raise
            raise IndexStoreError(
                f"the index at {directory} is damaged ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                "platesearch verify tells what can be repaired"
            ) from None

    # -- opening
    @classmethod
    def create_or_open(cls, directory: Path | str, manifest: IndexManifest, existing_only: bool = False) -> IndexStore:
        """Open for writing, creating the directory if needed (not with `existing_only`);
        refuses another model's index."""
        directory = Path(directory)
        path = directory / MANIFEST
        if directory.exists() and not directory.is_dir():
            raise IndexStoreError(f"{directory} is a file, not an index folder: give --index a folder")
        if existing_only and not path.exists():
            read_manifest(directory)  # raises: not an index
        if directory.is_dir() and not path.exists() and any(f.name not in OWN_FILES for f in directory.iterdir()):
            # e.g. `index --index photos/ my-index`: never turn a user's folder into an index
            raise IndexStoreError(
                f"{directory} is not empty and is not a platesearch index: refusing to write an index "
                "into it (give --index a new or empty folder; is it the photo folder?)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        if path.exists():
            existing = read_manifest(directory)
            existing.check_compatible(manifest, directory)
            manifest = existing  # keeps its vector index choice
        store = cls(directory, manifest, writable=True)
        if not path.exists():
            try:
                with disk_full_as_error(directory):
                    store._write_manifest()
            except IndexStoreError:
                store.close()
                raise
        return store

    @classmethod
    def open_readonly(
        cls, directory: Path | str, manifest: IndexManifest | None = None, readings_in_memory: bool = False
    ) -> IndexStore:
        """Open for queries; `manifest` (the loaded model's) must match the index's, if given.
        `readings_in_memory`: answer the OCR search from a `ReadingsIndex` loaded on its first
        query (a long-running reader's choice: about 2 s to load 1M crops' readings, then a few
        ms less CPU per query) instead of the catalog."""
        directory = Path(directory)
        existing = read_manifest(directory)
        if manifest is not None:
            existing.check_compatible(manifest, directory)
        store = cls(directory, existing, writable=False)
        store.readings_in_memory = readings_in_memory
        return store

    def changed_since_open(self) -> bool:
        """Whether another process committed to the catalog since this store loaded (a writer
        commits its catalog rows after their vectors, so the vectors are on disk by then)."""
        return self.catalog.data_version() != self.opened_version

    def _write_manifest(self) -> None:
        fields = {name: value for name, value in self.manifest.__dict__.items() if value is not None}
        atomic_write_bytes(self.directory / MANIFEST, (json.dumps(fields, indent=2) + "\n").encode())

    def _acquire_write_lock(self) -> None:
        handle = open(self.directory / LOCK, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise IndexStoreError(
                f"another platesearch process is writing to {self.directory}; wait for it to finish "
                "(queries can run meanwhile)"
            ) from None
        self._lock_handle = handle

    def _load_consistent_vectors(self, writable: bool, repair: bool = False) -> faiss.Index:
        """Load the vectors that belong to committed catalog rows.

        The catalog's crop ids are read first, in one snapshot, and the FAISS file after:
        a writer saves vectors before it commits their rows, so the file holds every id of
        the snapshot, plus perhaps a batch in flight or one whose commit a crash lost.
        Those extra vectors are dropped (and, for a writer, the file is rewritten).
        """
        committed = self.catalog.crop_ids()
        vectors = read_vectors(self.directory)
        if vectors is None and len(committed) and not repair:
            raise IndexStoreError(
                f"the index at {self.directory} is damaged: its catalog lists {len(committed)} crops but "
                f"{VECTORS} is missing (platesearch verify --repair forgets those photos, to index them again)"
            )
        if vectors is None:
            vectors = vector_search.new_exact(self.manifest.embedding_dim)
        stored = np.sort(vector_search.stored_ids(vectors))
        if not repair and belongs_to_another_index(committed, stored):
            raise IndexStoreError(
                f"the index at {self.directory} is damaged: {VECTORS} holds none of its catalog's crops "
                "(a file of another index?); platesearch verify --repair forgets the photos to index them again"
            )
        orphans = np.setdiff1d(stored, committed, assume_unique=True)
        if len(orphans):
            vectors.remove_ids(orphans)
        # Vectors missing for committed rows are not from our write order: a damaged or replaced file.
        missing = np.setdiff1d(committed, stored, assume_unique=True)
        self.visible_ids = CropIds(np.setdiff1d(stored, orphans, assume_unique=True))
        if writable:
            self.vectors = vectors
            if len(orphans):
                self._save_vectors()
            if len(missing):
                self.catalog.remove_photos_of_crops(set(missing.tolist()))
            if repair:
                self._save_vectors()
        return vectors

    def _save_vectors(self) -> None:
        """Write every vector as the base, then delete the segments it now holds, oldest first
        (a crash in between leaves the newest ones, whose vectors equal the base's)."""
        atomic_write_bytes(self.directory / VECTORS, vector_search.serialize(self.vectors))
        for path in segment_paths(self.directory):
            path.unlink()

    def _save_segment(self, crop_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Write one commit's vectors as the next segment, or everything as the base (see the
        module's docstring for when)."""
        segments = segment_paths(self.directory)
        segment_bytes = sum(path.stat().st_size for path in segments) + vectors.nbytes
        if (
            not (self.directory / VECTORS).exists()
            or len(segments) >= MAX_SEGMENTS
            or (
                vector_search.kind_of(self.vectors) in vector_search.INVERTED_FILES
                and segment_bytes > SEGMENT_SHARE * self.vectors.ntotal * self.vectors.d * 4
            )
        ):
            self._save_vectors()
            return
        if self.manifest.format_version < 2:  # readers that predate segments must not open it
            self.manifest = replace(self.manifest, format_version=2)
            self._write_manifest()
        number = int(SEGMENT.fullmatch(segments[-1].name).group(1)) + 1 if segments else 1
        segment = vector_search.new_exact(self.manifest.embedding_dim)
        segment.add_with_ids(vectors, crop_ids)
        atomic_write_bytes(self.directory / f"vectors-{number:06d}.faiss", vector_search.serialize(segment))

    def close(self) -> None:
        if hasattr(self, "catalog"):
            self.catalog.close()
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    # -- reading
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.vectors.ntotal)
        if k == 0:
            return np.zeros((len(vectors), 0), np.float32), np.zeros((len(vectors), 0), np.int64)
        with vector_search.one_thread():
            return self.vectors.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def cosine(self, query: np.ndarray, crop_ids: list[int]) -> list[float]:
        """Inner products of a unit query vector with the stored vectors of some crops."""
        if not crop_ids:
            return []
        return (self.vectors.reconstruct_batch(np.asarray(crop_ids, np.int64)) @ query).tolist()

    def ocr_readings(self, plate: str, full_scan_limit: int = OCR_FULL_SCAN_LIMIT) -> list[tuple[int, str]]:
        """(crop id, OCR reading) of the crops the OCR search scores for `plate`.

        Every reading while the store holds at most `full_scan_limit` crops; above, only readings
        sharing a character trigram with the plate: a reading with none has at least one error
        in every three characters, and the embedding still finds its crop. So above the limit a
        plate shorter than a trigram gets no readings: scoring every reading of 1M crops took
        5 s, and stalled every request queued behind it in `serve` (BENCHMARKS.md). Rows a writer
        committed after this store was opened are left out, so both search methods see the
        same snapshot.
        """
        scan = self._readings_scan(plate, full_scan_limit)
        if scan == "none":
            return []
        rows = (
            self.catalog.all_readings()
            if scan == "every"
            else self.catalog.readings_sharing_a_trigram(sorted({plate[i : i + 3] for i in range(len(plate) - 2)}))
        )
        return self._visible_rows(rows)

    def _readings_scan(self, plate: str, full_scan_limit: int) -> str:
        """Which readings the OCR search scores for `plate` (see ocr_readings): "every", "trigram" or "none"."""
        if len(self.visible_ids) <= full_scan_limit or not self.catalog.has_text_index:
            return "every"
        return "trigram" if len(plate) >= 3 else "none"

    def _visible_rows(self, rows: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
        rows = list(rows)
        visible = self.visible_ids.among(np.fromiter((i for i, _ in rows), np.int64, len(rows)))
        return [row for row, seen in zip(rows, visible, strict=True) if seen]

    def candidate_readings(self, plate: str, full_scan_limit: int = OCR_FULL_SCAN_LIMIT) -> CandidateReadings:
        """ocr_readings's crops with their readings split, flattened for scoring in one call.
        A store opened with `readings_in_memory` answers from its `ReadingsIndex`, loaded on
        first use, instead of the catalog."""
        if not self.readings_in_memory:
            return CandidateReadings.from_rows(self.ocr_readings(plate, full_scan_limit))
        scan = self._readings_scan(plate, full_scan_limit)
        if scan == "none":
            return CandidateReadings.from_rows([])
        return self._readings().candidates(plate, every_reading=scan == "every")

    def stored_readings(self, crop_ids: list[int]) -> dict[int, str]:
        """The stored readings of those of `crop_ids` that have any (`textmatch.split_readings`
        takes them apart); from the `ReadingsIndex` of a store opened with `readings_in_memory`."""
        if self.readings_in_memory:
            return self._readings().stored_readings(crop_ids)
        return self.catalog.stored_readings(crop_ids)

    def _readings(self) -> ReadingsIndex:
        if self._readings_index is None:
            self._readings_index = ReadingsIndex(self._visible_rows(self.catalog.all_readings()))
        return self._readings_index

    def stats(self) -> dict[str, int | str]:
        counts = self.catalog.counts()
        return {
            "photos": counts["photos"],
            "failed": counts["failed"],
            "crops": counts["crops"],
            "vectors": int(self.vectors.ntotal),
            "vector_index": f"{vector_search.kind_of(self.vectors)} (choice: {self.manifest.vector_index})",
            "photos_without_candidates": counts["photos_without_candidates"],
        }

    # -- writing
    def check_writable(self) -> None:
        if not self.writable:
            raise IndexStoreError(
                f"the index at {self.directory} was opened read-only: open it for writing to change it"
            )

    def add_batch(
        self, photos: list[PhotoRow], vectors: np.ndarray, failed: list[tuple[str, str]], seconds: dict[str, float]
    ) -> None:
        """Add photos with one vector per crop (in crop order) and failures; a path indexed
        before is replaced.

        Vectors reach disk first, then the catalog commits: a crash in between leaves orphan
        vectors that the next open drops. The time of both steps accumulates in `seconds`
        under "add" and "commit".
        """
        self.check_writable()
        with disk_full_as_error(self.directory):
            self._add_batch(photos, vectors, failed, seconds)

    def _add_batch(
        self, photos: list[PhotoRow], vectors: np.ndarray, failed: list[tuple[str, str]], seconds: dict[str, float]
    ) -> None:
        started = time.perf_counter()
        next_id = self.catalog.next_crop_id(self.manifest.first_crop_id)
        crop_ids = np.arange(next_id, next_id + len(vectors), dtype=np.int64)
        replaced = self.catalog.crop_ids_of([p.path for p in photos] + [f[0] for f in failed])
        if replaced:
            self.vectors.remove_ids(np.array(replaced, dtype=np.int64))
            self.visible_ids.discard(replaced)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors):
            self.vectors.add_with_ids(vectors, crop_ids)
            self.visible_ids.add(crop_ids)
        if (replaced or len(vectors)) and self._rebuild_vectors_if_needed():
            self._save_vectors()
        elif len(vectors):
            self._save_segment(crop_ids, vectors)
        written = time.perf_counter()
        self.catalog.add(photos, crop_ids.tolist(), failed, time.time())
        seconds["add"] = seconds.get("add", 0.0) + written - started
        seconds["commit"] = seconds.get("commit", 0.0) + time.perf_counter() - written

    def remove(self, paths: list[str]) -> int:
        """Forget photos and their crops; returns how many photos were removed."""
        self.check_writable()
        crop_ids = self.catalog.crop_ids_of(paths)
        removed = self.catalog.remove(paths)
        if crop_ids:
            self.vectors.remove_ids(np.array(crop_ids, dtype=np.int64))
            self.visible_ids.discard(crop_ids)
            if self._rebuild_vectors_if_needed():
                self._save_vectors()
        return removed

    def set_vector_index(self, choice: str) -> None:
        """Choose exact, IVF or automatic vector search and convert now; no re-embedding needed."""
        self.check_writable()
        vector_search.wanted_kind(choice, 0)  # validates the choice
        self.manifest = replace(self.manifest, vector_index=choice)
        if self._rebuild_vectors_if_needed():
            self._save_vectors()
        self._write_manifest()

    def _rebuild_vectors_if_needed(self) -> bool:
        """Switch kind at the size threshold (or re-train an outgrown IVF) from the stored vectors."""
        kind = vector_search.rebuild_target(self.vectors, self.manifest.vector_index)
        if kind is None:
            return False
        self.vectors = vector_search.convert(self.vectors, kind)
        return True


def belongs_to_another_index(committed: Iterable[int], stored: Iterable[int]) -> bool:
    """Whether a vectors file shares no crop id with the catalog, and is not this index's own
    file with every photo replaced by a batch whose commit was lost (its ids would start right
    after the catalog's). Indexes number their crops from a random base (Catalog.next_crop_id)."""
    committed, stored = (
        np.fromiter(ids, np.int64) if not isinstance(ids, np.ndarray) else ids for ids in (committed, stored)
    )
    if not len(committed) or not len(stored) or np.intersect1d(committed, stored, assume_unique=True).size:
        return False
    return bool(stored.min() != committed.max() + 1)


def read_manifest(directory: Path) -> IndexManifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise IndexStoreError(
            f"{directory} is not a platesearch index ({MANIFEST} is missing); create one with `platesearch index`"
        )
    try:
        manifest = IndexManifest(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:  # not JSON, or not the fields of a manifest
        raise IndexStoreError(f"{path} is damaged ({error}); index the photos again into a new folder") from None
    if manifest.format_version > FORMAT_VERSION:
        raise IndexStoreError(
            f"the index at {directory} has format {manifest.format_version}, newer than this platesearch "
            f"understands ({FORMAT_VERSION}): upgrade platesearch"
        )
    return manifest
