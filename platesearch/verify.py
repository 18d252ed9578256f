"""`platesearch verify`: check an index's manifest, catalog and vectors against each other, and
repair what can be repaired without the photos' pixels.

Vectors without a catalog row (of removed or re-indexed photos, or of a batch whose commit was
lost) are never searched; a repair, like the next `index` run, rewrites the vectors without
them. A repair also forgets photos whose vectors are missing (a damaged or replaced vectors
file): indexing their folders again re-adds them.
A catalog SQLite cannot read is beyond repair here: index the photos into a new folder.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from platesearch import vectors as vector_search
from platesearch.shards import shard_names
from platesearch.store import (
    CATALOG,
    SHARDS_DIR,
    VECTORS,
    IndexStore,
    IndexStoreError,
    belongs_to_another_index,
    read_manifest,
    read_vectors,
    segment_paths,
)


@dataclass
class VerifyReport:
    directory: Path
    problems: list[str] = field(default_factory=list)  # what is wrong
    repairs: list[str] = field(default_factory=list)  # what --repair does (or did)
    notes: list[str] = field(default_factory=list)  # worth knowing, not damage
    repaired: bool = False
    repairable: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_index(directory: Path | str, repair: bool = False) -> VerifyReport:
    """The index's own files checked (and repaired), then each of its further shards (`shards.py`)."""
    directory = Path(directory)
    report = _verify_shard(directory, repair)
    try:
        names = shard_names(directory)
    except IndexStoreError as error:
        report.problems.append(str(error))
        report.repairable = False
        return report
    for name in names:
        shard = _verify_shard(directory / SHARDS_DIR / name, repair)
        report.problems += [f"shard {name}: {line}" for line in shard.problems]
        report.repairs += [f"shard {name}: {line}" for line in shard.repairs]
        report.notes += [f"shard {name}: {line}" for line in shard.notes]
        report.repaired |= shard.repaired
        report.repairable &= shard.repairable
    return report


def _check_each_vectors_file(directory: Path, dim: int, report: VerifyReport) -> tuple[set[int], list[Path]]:
    """The crop ids the readable vector files hold, and the unreadable files; problems reported."""
    stored: set[int] = set()
    unreadable: list[Path] = []
    for path in [directory / VECTORS, *segment_paths(directory)]:
        if not path.exists():
            continue
        try:
            index = vector_search.read(str(path))
        except RuntimeError as error:
            unreadable.append(path)
            report.problems.append(f"{path.name} cannot be read ({str(error).splitlines()[0][:120]})")
            report.repairs.append(f"move the unreadable {path.name} aside ({path.name}.damaged)")
            continue
        stored |= set(vector_search.stored_ids(index).tolist())
        if index.d != dim:
            report.problems.append(f"{path.name} holds {index.d}-d vectors; the manifest says {dim}")
    return stored, unreadable


def _verify_shard(directory: Path, repair: bool) -> VerifyReport:
    report = VerifyReport(directory)
    try:
        manifest = read_manifest(directory)
    except IndexStoreError as error:
        report.problems.append(str(error))
        report.repairable = False
        return report
    try:
        db = sqlite3.connect(f"{(directory / CATALOG).resolve().as_uri()}?mode=ro", uri=True)
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        committed = {row[0] for row in db.execute("SELECT id FROM crops")}
        photos_by_crop = dict(db.execute("SELECT c.id, p.path FROM crops c JOIN photos p ON p.id = c.photo_id"))
        indexed = [row[0] for row in db.execute("SELECT path FROM photos WHERE status = 'ok'")]
        db.close()
    except sqlite3.DatabaseError as error:
        report.problems.append(f"{CATALOG} cannot be read ({error}): index the photos again into a new folder")
        report.repairable = False
        return report
    if integrity != "ok":
        report.problems.append(f"{CATALOG} fails SQLite's integrity check ({integrity})")
        report.repairable = False
    unreadable: list[Path] = []
    try:
        merged = read_vectors(directory)  # the base with its segments applied: what a reader sees
    except (RuntimeError, AssertionError):  # a file FAISS cannot read, or one of another dimension
        merged = None
    if merged is not None and merged.d == manifest.embedding_dim:
        stored = set(vector_search.stored_ids(merged).tolist())
    else:  # read each file alone, to say which one is wrong
        stored, unreadable = _check_each_vectors_file(directory, manifest.embedding_dim, report)
    if not (directory / VECTORS).exists() and committed:
        report.problems.append(f"{VECTORS} is missing")
    orphans, missing = stored - committed, committed - stored
    if belongs_to_another_index(committed, stored):
        report.problems.append(f"{VECTORS} holds none of the catalog's crops: it seems to belong to another index")
    if orphans:
        report.notes.append(
            f"{len(orphans)} stored vectors have no catalog row (removed or re-indexed photos, or a batch whose "
            "commit was lost): they are never searched; the next index run or verify --repair rewrites the "
            "vectors without them"
        )
    if missing:
        lost = sorted({photos_by_crop[i] for i in missing})
        report.problems.append(f"{len(missing)} crops of {len(lost)} photos have no vector")
        report.repairs.append(
            f"forget those {len(lost)} photos; index their folders again to re-add them: {', '.join(lost[:5])}"
            + (" ..." if len(lost) > 5 else "")
        )
    gone = [path for path in indexed if not Path(path).exists()]
    if gone:
        report.notes.append(
            f"{len(gone)} indexed photos are no longer on disk (platesearch remove forgets them): {', '.join(gone[:5])}"
        )
    if repair and (report.problems or orphans) and report.repairable:
        for path in unreadable:
            path.rename(path.with_name(path.name + ".damaged"))
        # The writer's open drops orphan vectors and forgets photos without vectors (store.py).
        IndexStore(directory, manifest, writable=True, repair=True).close()
        report.repaired = True
    return report
