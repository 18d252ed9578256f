"""Storage of an index directory: FAISS vectors beside a SQLite catalog and a manifest.

    INDEX_DIR/manifest.json     model hash, embedding dimension, preprocessing version, vector index choice
    INDEX_DIR/catalog.sqlite    photos (path, hash, size, time, status), their crops, and a
                                trigram full-text index of the crops' OCR readings
    INDEX_DIR/vectors.faiss     L2-normalized crop embeddings keyed by crop id (inner product = cosine),
                                exact or IVF (see `vectors`)

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
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from platesearch import vectors as vector_index

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
# OCR readings by character trigram, so the OCR search of a large index scores only the
# readings that share a trigram with the query instead of every crop (external content:
# the text itself stays in `crops`; triggers keep both in step, cascaded deletes included).
TEXT_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS crop_text USING fts5(
    ocr_text, tokenize = 'trigram', content = 'crops', content_rowid = 'id'
);
CREATE TRIGGER IF NOT EXISTS crop_text_insert AFTER INSERT ON crops WHEN new.ocr_text IS NOT NULL BEGIN
    INSERT INTO crop_text (rowid, ocr_text) VALUES (new.id, new.ocr_text);
END;
CREATE TRIGGER IF NOT EXISTS crop_text_delete AFTER DELETE ON crops WHEN old.ocr_text IS NOT NULL BEGIN
    INSERT INTO crop_text (crop_text, rowid, ocr_text) VALUES ('delete', old.id, old.ocr_text);
END;
"""
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
            self._create_text_index()
        self.db.isolation_level = ""  # back to implicit transactions for writes
        self.visible_ids: set[int] = set()  # crop ids of this store's view: those it has vectors for
        self.has_text_index = self._has_table("crop_text")  # absent in a read-only index older than it
        self.vectors = vector_index.prepare_for_search(self._load_consistent_vectors(writable))

    def _create_text_index(self) -> None:
        """Create the OCR trigram index; an index made before it existed gets it filled once."""
        existed = self._has_table("crop_text")
        self.db.executescript(TEXT_SCHEMA)
        if not existed:
            self.db.execute("INSERT INTO crop_text (crop_text) VALUES ('rebuild')")

    # -- opening
    @classmethod
    def create_or_open(cls, directory: Path | str, manifest: IndexManifest) -> IndexStore:
        """Open for writing, creating the directory if needed; refuses another model's index."""
        directory = Path(directory)
        path = directory / MANIFEST
        own_files = {CATALOG, f"{CATALOG}-wal", f"{CATALOG}-shm", f"{CATALOG}-journal", VECTORS, LOCK}
        if directory.is_dir() and not path.exists() and any(f.name not in own_files for f in directory.iterdir()):
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
            store._write_manifest()
        return store

    def _write_manifest(self) -> None:
        _atomic_write_bytes(self.directory / MANIFEST, (json.dumps(self.manifest.__dict__, indent=2) + "\n").encode())

    @classmethod
    def open_readonly(cls, directory: Path | str, manifest: IndexManifest) -> IndexStore:
        directory = Path(directory)
        existing = read_manifest(directory)
        existing.check_compatible(manifest, directory)
        return cls(directory, existing, writable=False)

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

    def _load_consistent_vectors(self, writable: bool) -> faiss.Index:
        """Load the vectors that belong to committed catalog rows.

        The catalog's crop ids are read first, in one snapshot, and the FAISS file after:
        a writer saves vectors before it commits their rows, so the file holds every id of
        the snapshot, plus perhaps a batch in flight or one whose commit a crash lost.
        Those extra vectors are dropped (and, for a writer, the file is rewritten).
        """
        committed = {row[0] for row in self.db.execute("SELECT id FROM crops")} if self._has_table("crops") else set()
        path = self.directory / VECTORS
        if path.exists():
            vectors = faiss.read_index(str(path))
        else:
            vectors = vector_index.new_exact(self.manifest.embedding_dim)
        stored = set(vector_index.stored_ids(vectors).tolist())
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

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None

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

    def ocr_readings(self, plate: str, full_scan_limit: int = OCR_FULL_SCAN_LIMIT) -> list[tuple[int, str]]:
        """(crop id, OCR reading) of the crops the OCR search scores for `plate`.

        Every reading while the store holds at most `full_scan_limit` crops (or the plate is
        shorter than a trigram); above, only readings sharing a character trigram with the
        plate: a reading with none has at least one error in every three characters, and the
        embedding still finds its crop. Rows a writer committed after this store was opened
        are left out, so both search methods see the same snapshot.
        """
        trigrams = sorted({plate[i : i + 3] for i in range(len(plate) - 2)})
        if len(self.visible_ids) <= full_scan_limit or not trigrams or not self.has_text_index:
            rows = self.db.execute("SELECT id, ocr_text FROM crops WHERE ocr_text IS NOT NULL")
        else:
            match = " OR ".join(f'"{t}"' for t in trigrams)  # plates are [A-Z0-9]: nothing to escape
            rows = self.db.execute(
                "SELECT c.id, c.ocr_text FROM crop_text JOIN crops c ON c.id = crop_text.rowid WHERE crop_text MATCH ?",
                (match,),
            )
        return [(i, text) for i, text in rows if i in self.visible_ids]

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
            "vector_index": f"{vector_index.kind_of(self.vectors)} (choice: {self.manifest.vector_index})",
            "photos_without_candidates": one(
                "SELECT COUNT(*) FROM photos p WHERE status = 'ok' AND NOT EXISTS (SELECT 1 FROM crops c WHERE c.photo_id = p.id)"
            ),
        }

    def failures(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT path, error FROM photos WHERE status = 'failed' ORDER BY path"))

    # -- writing
    def add_batch(
        self,
        photos: list[tuple[str, str, int, list[NewCrop]]],
        vectors: np.ndarray,
        failed: list[tuple[str, str]],
        seconds: dict[str, float] | None = None,
    ) -> None:
        """Add photos (path, sha256, size, crops) with one vector per crop, in crop order, and failures.

        Vectors reach disk first, then the catalog commits: a crash in between leaves orphan
        vectors that the next open drops. `seconds`, if given, accumulates the time of both
        steps under "add" and "commit".
        """
        started = time.perf_counter()
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
            self._rebuild_vectors_if_needed()
            self._save_vectors()
        written = time.perf_counter()
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
        if seconds is not None:
            seconds["add"] = seconds.get("add", 0.0) + written - started
            seconds["commit"] = seconds.get("commit", 0.0) + time.perf_counter() - written

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
            self._rebuild_vectors_if_needed()
            self._save_vectors()
        return removed

    def set_vector_index(self, choice: str) -> None:
        """Choose exact, IVF or automatic vector search and convert now; no re-embedding needed."""
        vector_index.wanted_kind(choice, 0)  # validates the choice
        self.manifest = replace(self.manifest, vector_index=choice)
        if self._rebuild_vectors_if_needed():
            self._save_vectors()
        self._write_manifest()

    def _rebuild_vectors_if_needed(self) -> bool:
        """Switch kind at the size threshold (or re-train an outgrown IVF) from the stored vectors."""
        kind = vector_index.rebuild_target(self.vectors, self.manifest.vector_index)
        if kind is None:
            return False
        self.vectors = vector_index.convert(self.vectors, kind)
        return True


def read_manifest(directory: Path) -> IndexManifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise IndexStoreError(
            f"{directory} is not a platesearch index ({MANIFEST} is missing); create one with `platesearch index`"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return IndexManifest(**data)
