"""Storage of an index directory: FAISS vectors beside a SQLite catalog and a manifest.

    INDEX_DIR/manifest.json     model hash, embedding dimension, preprocessing version
    INDEX_DIR/catalog.sqlite    photos (path, hash, size, time, status) and their crops
    INDEX_DIR/vectors.faiss     L2-normalized crop embeddings keyed by crop id (inner product = cosine)

Crash safety: each batch writes the FAISS file to a temporary file renamed into place,
then commits its catalog transaction (SQLite in WAL mode). Vectors whose crop was never
committed are dropped when the index is opened, so catalog and vectors always agree.
No pickle anywhere: JSON, SQLite and FAISS's own binary format.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
LOCK = "write.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT,
    size INTEGER,
    indexed_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT
);
CREATE INDEX IF NOT EXISTS photos_sha256 ON photos (sha256);
CREATE TABLE IF NOT EXISTS crops (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    ocr_text TEXT,
    ocr_confidence REAL,
    plausibility REAL
);
CREATE INDEX IF NOT EXISTS crops_photo ON crops (photo_id);
"""


class IndexStoreError(RuntimeError):
    """The index directory is missing, belongs to another model, or is locked by a writer."""


@dataclass(frozen=True)
class IndexManifest:
    model_sha256: str
    embedding_dim: int
    preprocessing_version: str
    format_version: int = FORMAT_VERSION

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


@dataclass(frozen=True)
class CropRecord:
    crop_id: int
    photo_path: str
    box: tuple[int, int, int, int]
    ocr_text: str | None
    ocr_confidence: float | None


@dataclass(frozen=True)
class NewCrop:
    box: tuple[int, int, int, int]
    ocr_text: str | None = None
    ocr_confidence: float | None = None
    plausibility: float | None = None


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class IndexStore:
    """Vectors and catalog of one index directory."""

    def __init__(self, directory: Path, manifest: IndexManifest, writable: bool) -> None:
        self.directory = directory
        self.manifest = manifest
        self._lock_handle = None
        if writable:
            self._acquire_write_lock()
        self.db = sqlite3.connect(directory / CATALOG, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = ON")
        if writable:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(SCHEMA)
        self.db.isolation_level = ""  # back to implicit transactions for writes
        self.visible_ids: set[int] = set()  # crop ids of this store's view: those it has vectors for
        self.vectors = self._load_consistent_vectors(writable)

    # -- opening
    @classmethod
    def create_or_open(cls, directory: Path | str, manifest: IndexManifest) -> IndexStore:
        """Open for writing, creating the directory if needed; refuses another model's index."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST
        if path.exists():
            read_manifest(directory).check_compatible(manifest, directory)
        store = cls(directory, manifest, writable=True)
        if not path.exists():
            _atomic_write_bytes(path, (json.dumps(manifest.__dict__, indent=2) + "\n").encode())
        return store

    @classmethod
    def open_readonly(cls, directory: Path | str, manifest: IndexManifest) -> IndexStore:
        directory = Path(directory)
        read_manifest(directory).check_compatible(manifest, directory)
        return cls(directory, manifest, writable=False)

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

    def _load_consistent_vectors(self, writable: bool) -> faiss.IndexIDMap2:
        """Load the vectors that belong to committed catalog rows.

        The catalog's crop ids are read first, in one snapshot, and the FAISS file after:
        a writer saves vectors before it commits their rows, so the file holds every id of
        the snapshot, plus perhaps a batch in flight or one whose commit a crash lost.
        Those extra vectors are dropped (and, for a writer, the file is rewritten).
        """
        committed = {row[0] for row in self.db.execute("SELECT id FROM crops")} if self._has_tables() else set()
        path = self.directory / VECTORS
        if path.exists():
            vectors = faiss.read_index(str(path))
        else:
            vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(self.manifest.embedding_dim))
        stored = set(faiss.vector_to_array(vectors.id_map).tolist())
        orphans = stored - committed
        if orphans:
            vectors.remove_ids(np.fromiter(orphans, dtype=np.int64))
        self.visible_ids = stored - orphans
        if writable:
            self.vectors = vectors
            if orphans:
                self._save_vectors()
            missing = committed - stored  # not from our write order: a damaged or replaced vectors file
            if missing:
                marks = ",".join("?" * len(missing))
                with self.db:
                    self.db.execute(
                        f"DELETE FROM photos WHERE id IN (SELECT photo_id FROM crops WHERE id IN ({marks}))",
                        tuple(missing),
                    )
        return vectors

    def _has_tables(self) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'crops'").fetchone() is not None

    def _save_vectors(self) -> None:
        _atomic_write_bytes(self.directory / VECTORS, faiss.serialize_index(self.vectors).tobytes())

    def close(self) -> None:
        self.db.close()
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    # -- reading
    def photo_by_hash(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT path FROM photos WHERE sha256 = ? AND status = 'ok'", (sha256,)).fetchone()
        return row[0] if row else None

    def photo_status(self, path: str) -> str | None:
        row = self.db.execute("SELECT status FROM photos WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.vectors.ntotal)
        if k == 0:
            return np.zeros((len(vectors), 0), np.float32), np.zeros((len(vectors), 0), np.int64)
        return self.vectors.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def crops(self, crop_ids: list[int]) -> dict[int, CropRecord]:
        if not crop_ids:
            return {}
        rows = self.db.execute(
            "SELECT c.id, p.path, c.x, c.y, c.w, c.h, c.ocr_text, c.ocr_confidence FROM crops c "
            f"JOIN photos p ON p.id = c.photo_id WHERE c.id IN ({','.join('?' * len(crop_ids))})",
            tuple(crop_ids),
        )
        return {r[0]: CropRecord(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], r[7]) for r in rows}

    def ocr_texts(self) -> list[tuple[int, str | None]]:
        """(crop id, OCR reading) of every crop in this store's view: what the OCR baseline searches.

        Rows a writer committed after this store was opened are left out, so both search
        methods see the same snapshot.
        """
        return [(i, text) for i, text in self.db.execute("SELECT id, ocr_text FROM crops") if i in self.visible_ids]

    def cosine(self, query: np.ndarray, crop_ids: list[int]) -> list[float]:
        """Inner products of a unit query vector with the stored vectors of some crops."""
        return [float(self.vectors.reconstruct(int(i)) @ query) for i in crop_ids]

    def stats(self) -> dict[str, int]:
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "photos": one("SELECT COUNT(*) FROM photos WHERE status = 'ok'"),
            "failed": one("SELECT COUNT(*) FROM photos WHERE status = 'failed'"),
            "crops": one("SELECT COUNT(*) FROM crops"),
            "vectors": int(self.vectors.ntotal),
            "photos_without_candidates": one(
                "SELECT COUNT(*) FROM photos p WHERE status = 'ok' AND NOT EXISTS (SELECT 1 FROM crops c WHERE c.photo_id = p.id)"
            ),
        }

    def failures(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT path, error FROM photos WHERE status = 'failed' ORDER BY path"))

    # -- writing
    def add_batch(
        self, photos: list[tuple[str, str, int, list[NewCrop]]], vectors: np.ndarray, failed: list[tuple[str, str]]
    ) -> None:
        """Add photos (path, sha256, size, crops) with one vector per crop, in crop order, and failures.

        Vectors reach disk first, then the catalog commits: a crash in between leaves orphan
        vectors that the next open drops.
        """
        now = time.time()
        next_id = (self.db.execute("SELECT COALESCE(MAX(id), 0) FROM crops").fetchone()[0]) + 1
        crop_ids = np.arange(next_id, next_id + len(vectors), dtype=np.int64)
        replaced = self._crop_ids_of([p[0] for p in photos] + [f[0] for f in failed])  # files indexed before
        if replaced:
            self.vectors.remove_ids(np.array(replaced, dtype=np.int64))
            self.visible_ids.difference_update(replaced)
        if len(vectors):
            self.vectors.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), crop_ids)
            self.visible_ids.update(crop_ids.tolist())
        if replaced or len(vectors):
            self._save_vectors()
        with self.db:
            ids = iter(crop_ids.tolist())
            for path, sha256, size, crops in photos:
                self.db.execute("DELETE FROM photos WHERE path = ?", (path,))
                photo_id = self.db.execute(
                    "INSERT INTO photos (path, sha256, size, indexed_at, status) VALUES (?, ?, ?, ?, 'ok')",
                    (path, sha256, size, now),
                ).lastrowid
                for crop in crops:
                    self.db.execute(
                        "INSERT INTO crops (id, photo_id, x, y, w, h, ocr_text, ocr_confidence, plausibility) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (next(ids), photo_id, *crop.box, crop.ocr_text, crop.ocr_confidence, crop.plausibility),
                    )
            for path, reason in failed:
                self.db.execute("DELETE FROM photos WHERE path = ?", (path,))  # and its old crops
                self.db.execute(
                    "INSERT INTO photos (path, indexed_at, status, error) VALUES (?, ?, 'failed', ?)",
                    (path, now, reason),
                )

    def _crop_ids_of(self, paths: list[str]) -> list[int]:
        if not paths:
            return []
        marks = ",".join("?" * len(paths))
        query = f"SELECT c.id FROM crops c JOIN photos p ON p.id = c.photo_id WHERE p.path IN ({marks})"
        return [row[0] for row in self.db.execute(query, paths)]

    def remove(self, paths: list[str]) -> int:
        """Forget photos and their crops; returns how many photos were removed."""
        marks = ",".join("?" * len(paths))
        crop_ids = self._crop_ids_of(paths)
        with self.db:
            removed = self.db.execute(f"DELETE FROM photos WHERE path IN ({marks})", paths).rowcount
        if crop_ids:
            self.vectors.remove_ids(np.array(crop_ids, dtype=np.int64))
            self.visible_ids.difference_update(crop_ids)
            self._save_vectors()
        return removed


def read_manifest(directory: Path) -> IndexManifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise IndexStoreError(
            f"{directory} is not a platesearch index ({MANIFEST} is missing); create one with `platesearch index`"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return IndexManifest(**data)
