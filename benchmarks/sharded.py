"""A simulated 10M-crop index in shards: build time, bytes and memory per crop, query p50 / p99,
recall@10 against exact search over all 10M.

The vectors are simulated like `benchmarks/compressed.py`'s (noisy sightings of real US crops
and generated plates embedded by the shipped model), without catalog rows: this measures the
vector side of a sharded index. Each shard holds --shard-crops vectors built as a shard's
`vectors.faiss` would be (`vectors.build`, --kind, default ivf-sq8) and is written to a file.
Exact search's 10 nearest over the whole collection are found shard by shard while each
shard's float vectors are in memory, then merged. A query searches every shard for its 10
nearest and merges them (what `PlateIndex.search` does with its shards), one query at a time.
Memory: what a fresh process grows by when it reads every shard file.

Run: PLATESEARCH_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sharded.py [--crops 10000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from compressed import simulated
from scale import percentiles, sources

from platesearch import vectors
from platesearch.model import default_embedder
from platesearch.render import render_plate

MEMORY_PROBE = (
    "import os,sys;from platesearch import vectors;"
    "rss=lambda:int(open('/proc/self/statm').read().split()[1])*os.sysconf('SC_PAGE_SIZE');"
    "before=rss();shards=[vectors.read(p) for p in sys.argv[1:]];print(rss()-before)"
)


def merged_top10(per_shard: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The 10 best (score, id) per query over several shards' answers."""
    scores = np.concatenate([s for s, _ in per_shard], axis=1)
    ids = np.concatenate([i for _, i in per_shard], axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops", type=int, default=10_000_000)
    parser.add_argument("--shard-crops", type=int, default=1_000_000)
    parser.add_argument("--kind", default=vectors.IVF_SQ8, choices=[vectors.IVF, vectors.IVF_SQ8])
    parser.add_argument("--synthetic", type=int, default=4000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    base, texts, plates = sources(args.synthetic, rng)
    queries = default_embedder().embed(np.stack([render_plate(p) for p in plates]))
    plate_names = np.array(texts)
    shard_count = -(-args.crops // args.shard_crops)
    work = Path(tempfile.mkdtemp(prefix="sharded-"))
    files, exact_parts, plate_of, build_seconds = [], [], [], []
    for shard in range(shard_count):
        count = min(args.shard_crops, args.crops - shard * args.shard_crops)
        points, picks = simulated(base, count, rng)
        ids = np.arange(shard * args.shard_crops + 1, shard * args.shard_crops + count + 1, dtype=np.int64)
        plate_of.append(picks)
        flat = faiss.IndexFlatIP(points.shape[1])
        flat.add(points)
        scores, positions = flat.search(queries, 10)
        exact_parts.append((scores, ids[positions]))
        del flat
        started = time.perf_counter()
        index = vectors.build(args.kind, ids, points, points.shape[1])
        build_seconds.append(time.perf_counter() - started)
        files.append(work / f"{shard:04d}.faiss")
        files[-1].write_bytes(vectors.serialize(index))
        del index, points
        print(f"shard {shard + 1}/{shard_count}: {count:,} crops built in {build_seconds[-1]:.0f} s", flush=True)
    _, truth = merged_top10(exact_parts)
    plate_index = plate_names[np.concatenate(plate_of)]  # the plate each crop (id - 1) shows
    disk = sum(f.stat().st_size for f in files) / args.crops
    grown = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *map(str, files)], check=True, capture_output=True)
    memory = int(grown.stdout.strip()) / args.crops
    shards = [vectors.prepare_for_search(vectors.read(str(f))) for f in files]
    timings, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = merged_top10([shard.search(query[None], 10) for shard in shards])
        timings.append(time.perf_counter() - started)
        found.append(ids[0])
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    plates_kept = float(
        np.mean(
            [
                len(set(plate_index[f - 1]) & set(plate_index[t - 1])) / len(set(plate_index[t - 1]))
                for f, t in zip(found, truth, strict=True)
            ]
        )
    )
    print(
        f"\n| crops | shards | kind | build (sum over shards) | query p50 / p99 (ms), every shard searched and merged "
        f"| recall@10 vs exact | plates in top 10 vs exact | disk per crop | memory per crop |\n|---|---|---|---|---|---|---|---|---|\n"
        f"| {args.crops:,} | {shard_count} x {args.shard_crops:,} | {args.kind}, nprobe {vectors.IVF_NPROBE} "
        f"| {sum(build_seconds):.0f} s ({np.mean(build_seconds):.0f} s per shard) | {percentiles(timings)} "
        f"| {recall:.4f} | {plates_kept:.4f} | {disk:.0f} B | {memory:.0f} B |"
    )
    for f in files:
        f.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
