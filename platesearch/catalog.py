"""The SQLite catalog of an index: photos, their crops, and a trigram index of the crops' readings.

Rows only: keeping them consistent with the vectors is the store's job (`store.py`). Written
in WAL mode, so readers query while one writer commits.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from platesearch.records import Box, CropRow, Sighting, StoredCrop

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
    ocr_confidence REAL
);
CREATE INDEX IF NOT EXISTS crops_photo ON crops (photo_id);
"""
# Added after the first release: an index written before gets the columns on its first write.
# A photo's `error` with status 'ok' says what of it could not be read (a video cut short).
ADDED_COLUMNS = {
    "photos": {"mtime": "REAL", "taken_at": "TEXT"},
    "crops": {"time": "REAL", "sighting": "INTEGER", "first": "REAL", "last": "REAL"},  # records.Sighting
}
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


@dataclass(frozen=True)
class PhotoRow:
    """A photo to record: its file identity and its candidates (one vector each, in order)."""

    path: str
    sha256: str
    size: int
    mtime: float
    crops: list[CropRow]
    taken_at: str | None = None  # ISO 8601 local time (media.taken_at)
    error: str | None = None  # what of it could not be read, though the rest was (a video cut short)


@dataclass(frozen=True)
class KnownFile:
    """What the catalog remembers of an indexed file, to skip it unread when it is unchanged."""

    size: int | None
    mtime: float | None
    status: str

    def unchanged(self, size: int, mtime: float) -> bool:
        """Indexed, and the file still has the size and time it had then: skip it unread."""
        return self.status == "ok" and (self.size, self.mtime) == (size, mtime)


class Catalog:
    """The rows of one index directory's `catalog.sqlite`."""

    def __init__(self, path: Path, writable: bool) -> None:
        # A reader may be used from several threads (a server), one at a time: its caller serializes.
        if writable or (os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)):
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=writable)
        else:  # a read-only mount or another user's index: SQLite could not even take its read lock
            uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        if writable:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(SCHEMA)
            for table, added in ADDED_COLUMNS.items():
                columns = self._columns(table)
                for name, kind in added.items():
                    if name not in columns:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            self._create_text_index()
        self.db.isolation_level = ""  # back to implicit transactions for writes
        self.has_text_index = self.has_table("crop_text")  # absent in a read-only index older than it
        columns = self._columns("photos")
        self.has_mtime = "mtime" in columns  # likewise
        self._taken_at = "p.taken_at" if "taken_at" in columns else "NULL"  # likewise
        crop_columns = self._columns("crops")
        self._video = ", ".join(f"c.{name}" if name in crop_columns else "NULL" for name in ADDED_COLUMNS["crops"])

    def _create_text_index(self) -> None:
        """Create the OCR trigram index; an index made before it existed gets it filled once."""
        existed = self.has_table("crop_text")
        self.db.executescript(TEXT_SCHEMA)
        if not existed:
            self.db.execute("INSERT INTO crop_text (crop_text) VALUES ('rebuild')")

    def has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        self.db.close()

    # -- reading
    def data_version(self) -> int:
        """Changes whenever another connection commits to the catalog (SQLite's data_version)."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def crop_ids(self) -> np.ndarray:
        """Every crop id, sorted (int64: a million ids as Python ints would take 60 MB more)."""
        if not self.has_table("crops"):
            return np.zeros(0, np.int64)
        return np.fromiter((row[0] for row in self.db.execute("SELECT id FROM crops ORDER BY id")), np.int64)

    def next_crop_id(self, first: int | None = None) -> int:
        """One past the largest crop id; an empty catalog starts at `first` (a shard's), else at a
        random multiple of 2**20 below 2**40, so two indexes share no ids and a vectors file from
        another index is told apart."""
        largest = self.db.execute("SELECT MAX(id) FROM crops").fetchone()[0]
        if largest is not None:
            return largest + 1
        return first if first is not None else secrets.randbelow(1 << 20) << 20 | 1

    def photo_by_hash(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT path FROM photos WHERE sha256 = ? AND status = 'ok'", (sha256,)).fetchone()
        return row[0] if row else None

    def known_file(self, path: str) -> KnownFile | None:
        row = self.db.execute(
            f"SELECT size, {'mtime' if self.has_mtime else 'NULL'}, status FROM photos WHERE path = ?", (path,)
        ).fetchone()
        return KnownFile(*row) if row else None

    def has_readings(self) -> bool:
        return self.db.execute("SELECT 1 FROM crops WHERE ocr_text IS NOT NULL LIMIT 1").fetchone() is not None

    def crops(self, crop_ids: list[int]) -> dict[int, StoredCrop]:
        if not crop_ids:
            return {}
        rows = self.db.execute(
            f"SELECT c.id, p.path, c.x, c.y, c.w, c.h, c.ocr_text, c.ocr_confidence, {self._taken_at}, {self._video} "
            f"FROM crops c JOIN photos p ON p.id = c.photo_id WHERE c.id IN ({','.join('?' * len(crop_ids))})",
            tuple(crop_ids),
        )
        return {
            r[0]: StoredCrop(
                r[0],
                r[1],
                (r[2], r[3], r[4], r[5]),
                r[6],
                r[7],
                r[8],
                r[9],
                Sighting(r[10], r[11], r[12]) if r[10] is not None else None,
            )
            for r in rows
        }

    def box_heights(self, crop_ids: list[int]) -> np.ndarray:
        """Each crop's box height in photo pixels, in `crop_ids`' order (0 for a crop not stored)."""
        if not crop_ids:
            return np.zeros(0, np.int64)
        marks = ",".join("?" * len(crop_ids))
        heights = dict(self.db.execute(f"SELECT id, h FROM crops WHERE id IN ({marks})", tuple(crop_ids)))
        return np.array([heights.get(i, 0) for i in crop_ids], np.int64)

    def stored_readings(self, crop_ids: list[int]) -> dict[int, str]:
        """The stored readings of those of these crops that have any."""
        if not crop_ids:
            return {}
        marks = ",".join("?" * len(crop_ids))
        query = f"SELECT id, ocr_text FROM crops WHERE id IN ({marks}) AND ocr_text IS NOT NULL"
        return dict(self.db.execute(query, tuple(crop_ids)))

    def all_readings(self) -> Iterable[tuple[int, str]]:
        return self.db.execute("SELECT id, ocr_text FROM crops WHERE ocr_text IS NOT NULL")

    def readings_sharing_a_trigram(self, trigrams: list[str]) -> Iterable[tuple[int, str]]:
        match = " OR ".join(f'"{t}"' for t in trigrams)  # plates are [A-Z0-9]: nothing to escape
        return self.db.execute(
            "SELECT c.id, c.ocr_text FROM crop_text JOIN crops c ON c.id = crop_text.rowid WHERE crop_text MATCH ?",
            (match,),
        )

    def counts(self) -> dict[str, int]:
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "photos": one("SELECT COUNT(*) FROM photos WHERE status = 'ok'"),
            "failed": one("SELECT COUNT(*) FROM photos WHERE status = 'failed'"),
            "crops": one("SELECT COUNT(*) FROM crops"),
            "photos_without_candidates": one(
                "SELECT COUNT(*) FROM photos p WHERE status = 'ok' AND NOT EXISTS (SELECT 1 FROM crops c WHERE c.photo_id = p.id)"
            ),
        }

    def crops_of(self, paths: list[str]) -> dict[int, StoredCrop]:
        """Every crop of these photos."""
        return self.crops(self.crop_ids_of(paths))

    def crop_boxes(self) -> list[tuple[str, Box]]:
        rows = self.db.execute("SELECT p.path, c.x, c.y, c.w, c.h FROM crops c JOIN photos p ON p.id = c.photo_id")
        return [(path, (x, y, w, h)) for path, x, y, w, h in rows]

    def failures(self) -> list[tuple[str, str]]:
        """Files that failed, and files read only in part (a video cut short), with the reason."""
        return list(self.db.execute("SELECT path, error FROM photos WHERE error IS NOT NULL ORDER BY path"))

    def crop_ids_of(self, paths: list[str]) -> list[int]:
        if not paths:
            return []
        marks = ",".join("?" * len(paths))
        query = f"SELECT c.id FROM crops c JOIN photos p ON p.id = c.photo_id WHERE p.path IN ({marks})"
        return [row[0] for row in self.db.execute(query, paths)]

    def export(self) -> tuple[list[tuple[PhotoRow, list[int]]], list[tuple[str, str]]]:
        """Every photo as it was added, with its crops' ids in order, and every failure (path,
        reason): what `shards.compact` moves into another shard."""
        crops: dict[int, list[tuple[int, CropRow]]] = {}
        query = f"SELECT c.photo_id, c.id, c.x, c.y, c.w, c.h, c.ocr_text, c.ocr_confidence, {self._video} FROM crops c ORDER BY c.id"
        for photo_id, crop_id, x, y, w, h, text, confidence, time, number, first, last in self.db.execute(query):
            sighting = Sighting(number, first, last) if number is not None else None
            crops.setdefault(photo_id, []).append((crop_id, CropRow((x, y, w, h), text, confidence, time, sighting)))
        photos, failed = [], []
        mtime = "p.mtime" if self.has_mtime else "NULL"
        query = f"SELECT p.id, p.path, p.sha256, p.size, {mtime}, {self._taken_at}, p.status, p.error FROM photos p ORDER BY p.id"
        for photo_id, path, sha256, size, modified, taken, status, error in self.db.execute(query):
            if status == "failed":
                failed.append((path, error))
                continue
            own = crops.get(photo_id, [])
            row = PhotoRow(path, sha256, size, modified or 0.0, [crop for _, crop in own], taken, error)
            photos.append((row, [crop_id for crop_id, _ in own]))
        return photos, failed

    # -- writing (each call is one transaction)
    def add(self, photos: list[PhotoRow], crop_ids: Iterable[int], failed: list[tuple[str, str]], now: float) -> None:
        """Record photos with their crops (taking `crop_ids` in order) and failures; a path
        recorded before is replaced, its old crops with it."""
        ids = iter(crop_ids)
        with self.db:
            for photo in photos:
                self.db.execute("DELETE FROM photos WHERE path = ?", (photo.path,))
                photo_id = self.db.execute(
                    "INSERT INTO photos (path, sha256, size, mtime, taken_at, indexed_at, status, error) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'ok', ?)",
                    (photo.path, photo.sha256, photo.size, photo.mtime, photo.taken_at, now, photo.error),
                ).lastrowid
                for crop in photo.crops:
                    sighting = crop.sighting
                    self.db.execute(
                        "INSERT INTO crops (id, photo_id, x, y, w, h, ocr_text, ocr_confidence, time, sighting, first, last) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            next(ids),
                            photo_id,
                            *crop.box,
                            crop.ocr_text,
                            crop.ocr_confidence,
                            crop.time,
                            *((sighting.number, sighting.first, sighting.last) if sighting else (None, None, None)),
                        ),
                    )
            for path, reason in failed:
                self.db.execute("DELETE FROM photos WHERE path = ?", (path,))  # and its old crops
                self.db.execute(
                    "INSERT INTO photos (path, indexed_at, status, error) VALUES (?, ?, 'failed', ?)",
                    (path, now, reason),
                )

    def move(self, old_path: str, new_path: str, size: int, mtime: float) -> None:
        """A photo found at a new path with the same content: record where it is now."""
        with self.db:
            self.db.execute("DELETE FROM photos WHERE path = ? AND status = 'failed'", (new_path,))
            self.db.execute(
                "UPDATE photos SET path = ?, size = ?, mtime = ? WHERE path = ?", (new_path, size, mtime, old_path)
            )

    def touch(self, path: str, mtime: float) -> None:
        """The file's time changed but not its content: remember the new time, so it is not hashed again."""
        with self.db:
            self.db.execute("UPDATE photos SET mtime = ? WHERE path = ?", (mtime, path))

    def remove(self, paths: list[str]) -> int:
        """Forget photos (their crops cascade); returns how many were removed."""
        marks = ",".join("?" * len(paths))
        with self.db:
            return self.db.execute(f"DELETE FROM photos WHERE path IN ({marks})", paths).rowcount

    def remove_photos_of_crops(self, crop_ids: set[int]) -> None:
        marks = ",".join("?" * len(crop_ids))
        with self.db:
            self.db.execute(
                f"DELETE FROM photos WHERE id IN (SELECT photo_id FROM crops WHERE id IN ({marks}))", tuple(crop_ids)
            )
