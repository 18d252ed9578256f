"""What a commit writes as the index grows: 20 commits of 100 photos (one crop each) into an
IVF-SQ8 index of 10k, 100k and 1M simulated crops (`benchmarks/scale.py`'s vectors and
readings, catalog rows included), each commit's bytes and seconds. Bytes: every whole-file
write of the store (`store.atomic_write_bytes`: vectors base or segment, manifest); the
catalog's own SQLite writes are not in it. Before vector segments, every commit wrote the
whole vectors file (its size is in the last column).

Run: .venv/bin/python benchmarks/commit_cost.py [--sizes 10000 100000 1000000] [--commits 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scale import grow, sources

from platesearch import store as store_module
from platesearch.model import default_embedder
from platesearch.pipeline import PlateIndex
from platesearch.store import VECTORS, IndexStore, segment_paths

COMMIT_PHOTOS = 100


def counting_writes() -> list[int]:
    """Route the store's whole-file writes through a counter; returns the list it appends to."""
    sizes: list[int] = []
    original = store_module.atomic_write_bytes

    def counted(path: Path, data: bytes) -> None:
        sizes.append(len(data))
        original(path, data)

    store_module.atomic_write_bytes = counted
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    base, texts, _ = sources(1000, rng)
    sizes = counting_writes()
    print(
        f"| crops in the index | {args.commits} commits of {COMMIT_PHOTOS} crops: bytes written, median / max "
        "/ mean | base rewrites | seconds, median / max | vectors file (what every commit wrote before) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="platesearch-commit-") as tmp:
        manifest = PlateIndex.manifest_for(default_embedder())
        store = IndexStore.create_or_open(Path(tmp) / "index", manifest)
        store.set_vector_index("ivf-sq8")
        for size in args.sizes:
            grow(store, size, base, texts, rng)
            written, seconds, rewrites = [], [], 0
            for _ in range(args.commits):
                del sizes[:]
                segments = len(segment_paths(store.directory))
                started = time.perf_counter()
                grow(store, store.vectors.ntotal + COMMIT_PHOTOS, base, texts, rng)
                seconds.append(time.perf_counter() - started)
                written.append(sum(sizes))
                rewrites += len(segment_paths(store.directory)) <= segments
            print(
                f"| {size:,} | {np.median(written):,.0f} / {max(written):,} / {np.mean(written):,.0f} B | {rewrites} "
                f"| {np.median(seconds):.3f} / {max(seconds):.3f} s | {(store.directory / VECTORS).stat().st_size:,} B |",
                flush=True,
            )
        store.close()


if __name__ == "__main__":
    main()
