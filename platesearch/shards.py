"""An index in shards, so that no write grows with the whole index.

    INDEX_DIR/                  the first shard (an index of one shard is the index as it always was)
    INDEX_DIR/shards.json       the further shards, in order, each an ordinary index folder
    INDEX_DIR/shards/0001/ ...

A writer adds to the last shard and starts a new one when that one holds `shard_crops` crops.
A commit writes only its own vectors (a segment, `store.py`); the base rewrite that now and
then takes the segments in is of one shard, however large the index. Distributed indexing
(`distributed.py`) gives each worker a shard of its own. A query searches every shard and
merges their rankings (`merge_results`); a photo lives in one shard, so counting a photo once
stays right. `compact` merges every shard into the first.

Crop ids stay unique across shards: shard n numbers its crops from n * 2**41 plus a random
multiple of 2**20 below 2**40 (the first shard: the random part alone), so a crop id names one
crop of the whole index.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from platesearch import vectors as vector_search
from platesearch.catalog import KnownFile, PhotoRow
from platesearch.config import DEFAULT_SHARD_CROPS
from platesearch.records import Box, SearchResult, StoredCrop
from platesearch.store import SHARD_LIST, SHARDS_DIR, IndexManifest, IndexStore, IndexStoreError, atomic_write_bytes

SHARD_ID_STRIDE = 1 << 41


def shard_names(root: Path) -> list[str]:
    """The further shards of the index at `root`, in order ([] for an index of one shard)."""
    path = Path(root) / SHARD_LIST
    if not path.exists():
        return []
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["shards"]
        if not all(isinstance(name, str) and name.isdigit() for name in names):
            raise ValueError("shard names are folder numbers")
    except (ValueError, KeyError, TypeError) as error:
        raise IndexStoreError(f"{path} is damaged ({error}); platesearch verify tells what can be repaired") from None
    return names


def shard_directories(root: Path) -> list[Path]:
    """Every shard folder of the index at `root`, the first shard (`root` itself) first."""
    root = Path(root)
    return [root, *(root / SHARDS_DIR / name for name in shard_names(root))]


def _write_shard_list(root: Path, names: list[str]) -> None:
    atomic_write_bytes(root / SHARD_LIST, (json.dumps({"shards": names}, indent=2) + "\n").encode())


def add_shards(root: Path, manifest: IndexManifest, count: int) -> list[Path]:
    """Create `count` empty shards after the existing ones and list them; returns their folders.
    The caller holds the first shard's write lock (one writer changes the list at a time)."""
    root = Path(root)
    names = shard_names(root)
    taken = {int(name) for name in names}
    added = []
    number = max(taken, default=0)
    for _ in range(count):
        number += 1
        first_crop_id = number * SHARD_ID_STRIDE + (secrets.randbelow(1 << 20) << 20 | 1)
        directory = root / SHARDS_DIR / f"{number:04d}"
        shard_manifest = replace(manifest, first_crop_id=first_crop_id)
        IndexStore.create_or_open(directory, shard_manifest).close()  # writes its manifest
        names.append(f"{number:04d}")
        added.append(directory)
    _write_shard_list(root, names)  # listed once they exist, so a reader never meets a missing shard
    return added


def merge_results(rankings: Iterable[list[SearchResult]], k: int) -> list[SearchResult]:
    """The k best of several shards' rankings, re-ranked; a place (photo or sighting) counts once."""
    best: dict[tuple[str, int | None], SearchResult] = {}
    for result in sorted((r for ranking in rankings for r in ranking), key=lambda r: -r.score):
        best.setdefault((result.path, result.sighting), result)
    return [replace(result, rank=rank) for rank, result in enumerate(list(best.values())[:k], start=1)]


@dataclass
class ShardSet:
    """Every shard of one index, opened together: the readers' view, or the one writer's."""

    root: Path
    stores: list[IndexStore]
    shard_crops: int = DEFAULT_SHARD_CROPS

    @classmethod
    def open_readonly(
        cls, root: Path | str, manifest: IndexManifest | None = None, readings_in_memory: bool = False
    ) -> ShardSet:
        root = Path(root)
        stores = [IndexStore.open_readonly(root, manifest, readings_in_memory)]
        try:
            stores += [
                IndexStore.open_readonly(d, stores[0].manifest, readings_in_memory) for d in shard_directories(root)[1:]
            ]
        except BaseException:
            for store in stores:
                store.close()
            raise
        return cls(root, stores)

    @classmethod
    def create_or_open(
        cls,
        root: Path | str,
        manifest: IndexManifest,
        existing_only: bool = False,
        shard_crops: int = DEFAULT_SHARD_CROPS,
    ) -> ShardSet:
        """Open every shard for writing (the first is created if needed); one writer at a time."""
        root = Path(root)
        stores = [IndexStore.create_or_open(root, manifest, existing_only)]
        try:
            stores += [IndexStore.create_or_open(d, manifest, existing_only=True) for d in shard_directories(root)[1:]]
        except BaseException:
            for store in stores:
                store.close()
            raise
        return cls(root, stores, shard_crops)

    @property
    def manifest(self) -> IndexManifest:
        return self.stores[0].manifest

    @property
    def readings_in_memory(self) -> bool:
        return self.stores[0].readings_in_memory

    @property
    def writer(self) -> IndexStore:
        """The shard new photos go to: the last one."""
        return self.stores[-1]

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def changed_since_open(self) -> bool:
        return (
            any(store.changed_since_open() for store in self.stores)
            or len(shard_names(self.root)) != len(self.stores) - 1
        )

    # -- reading
    def owner(self, crop_id: int) -> IndexStore | None:
        """The shard holding a crop (its vectors are committed there)."""
        return next((store for store in self.stores if crop_id in store.visible_ids), None)

    def crop(self, crop_id: int) -> StoredCrop | None:
        store = self.owner(crop_id)
        return store.catalog.crops([crop_id]).get(crop_id) if store else None

    def crops_of(self, paths: list[str]) -> dict[int, StoredCrop]:
        return {i: crop for store in self.stores for i, crop in store.catalog.crops_of(paths).items()}

    def cosine(self, vector: np.ndarray, crop_ids: list[int]) -> list[float]:
        by_id = {}
        for store in self.stores:
            own = [i for i in crop_ids if i in store.visible_ids]
            by_id.update(zip(own, store.cosine(vector, own), strict=True))
        return [by_id[i] for i in crop_ids]

    def known_file(self, path: str) -> tuple[IndexStore, KnownFile] | None:
        """The shard that records a path, and what it records."""
        for store in self.stores:
            known = store.catalog.known_file(path)
            if known is not None:
                return store, known
        return None

    def photo_by_hash(self, sha256: str) -> str | None:
        return next((p for store in self.stores if (p := store.catalog.photo_by_hash(sha256)) is not None), None)

    def has_readings(self) -> bool:
        return any(store.catalog.has_readings() for store in self.stores)

    def crop_boxes(self) -> list[tuple[str, Box]]:
        return [box for store in self.stores for box in store.catalog.crop_boxes()]

    def failures(self) -> list[tuple[str, str]]:
        return sorted(failure for store in self.stores for failure in store.catalog.failures())

    def stats(self) -> dict[str, int | str]:
        each = [store.stats() for store in self.stores]
        summed: dict[str, int | str] = {
            key: sum(int(s[key]) for s in each)
            for key in ("photos", "failed", "crops", "vectors", "photos_without_candidates")
        }
        kinds = sorted({str(s["vector_index"]) for s in each})
        summed["vector_index"] = kinds[0] if len(kinds) == 1 else ", ".join(kinds)
        summed["shards"] = len(self.stores)
        return summed

    # -- writing
    def writer_for(self, crops: int) -> IndexStore:
        """The shard a batch of `crops` crops goes to: a new one if the batch would take the last
        past `shard_crops` (a batch is not split: a shard holding one batch may exceed it)."""
        if self.writer.vectors.ntotal and self.writer.vectors.ntotal + crops > self.shard_crops:
            (directory,) = add_shards(self.root, self.manifest, 1)
            self.stores.append(IndexStore.create_or_open(directory, self.manifest, existing_only=True))
        return self.writer

    def add_batch(
        self, photos: list[PhotoRow], vectors: np.ndarray, failed: list[tuple[str, str]], seconds: dict[str, float]
    ) -> None:
        """IndexStore.add_batch into the writer's shard; a path another shard records is
        forgotten there first (a changed file is indexed anew, where new photos go)."""
        writer = self.writer_for(len(vectors))
        paths = [photo.path for photo in photos] + [path for path, _ in failed]
        for store in self.stores:
            if store is not writer and any(store.catalog.known_file(path) is not None for path in paths):
                store.remove(paths)
        writer.add_batch(photos, vectors, failed, seconds)

    def touch(self, path: str, mtime: float) -> None:
        found = self.known_file(path)
        if found:
            found[0].catalog.touch(path, mtime)

    def move(self, old_path: str, new_path: str, size: int, mtime: float) -> None:
        found = self.known_file(old_path)
        if found:
            found[0].catalog.move(old_path, new_path, size, mtime)

    def remove(self, paths: list[str]) -> int:
        return sum(store.remove(paths) for store in self.stores)

    def set_vector_index(self, choice: str) -> None:
        for store in self.stores:
            store.set_vector_index(choice)

    def compact(self) -> int:
        """Move every further shard's photos, crops and vectors into the first shard, then drop
        the shard; returns how many shards were merged. A photo the first shard already records
        (a compaction cut short before it dropped the shard) is not added twice."""
        root_store, merged = self.stores[0], 0
        for store in self.stores[1:]:
            photos, failed = store.catalog.export()
            known = {path for path in (p.path for p, _ in photos) if root_store.catalog.known_file(path)}
            ids, stored = vector_search.stored_vectors(store.vectors)
            by_id = dict(zip(ids.tolist(), range(len(ids)), strict=True))
            rows, order = [], []
            for photo, crop_ids in photos:
                if photo.path not in known:
                    rows.append(photo)
                    order += [by_id[i] for i in crop_ids]
            moved = stored[order] if order else np.zeros((0, self.manifest.embedding_dim), np.float32)
            root_store.add_batch(rows, moved, [f for f in failed if f[0] not in known], {})
            names = shard_names(self.root)
            names.remove(store.directory.name)
            _write_shard_list(self.root, names)  # unlisted first: readers stop opening it
            store.close()
            shutil.rmtree(store.directory)
            merged += 1
        self.stores = [root_store]
        return merged
