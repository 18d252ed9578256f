"""IVF-Flat against IVF-SQ8 at 1M crops: recall@10 against exact search, search time, bytes per crop.

The vectors are simulated like `benchmarks/scale.py`'s (its `sources`: real US crops and
generated plates embedded by the shipped model; each crop one of them plus Gaussian noise,
re-normalized), without catalog rows: this measures the vector side only. Queries: the rendered
texts of 200 real US plates, one at a time. Bytes on disk: the serialized index (codes, ids
and the id -> position map; IVF-SQ8 also its error codes) per crop. Memory: what a fresh
process's resident size grows by when it reads that file.

recall@10 counts a near tie swapped by 8-bit rounding as a miss; "plates in top 10" asks whether
the same plates (sources) are among the 10 nearest, whichever of their sightings; "cosine lost" says what such
misses cost: the mean, over queries, of the exact cosine of exact search's 10th neighbour minus
that of the approximate index's 10th (both computed on the float vectors).

Run: .venv/bin/python benchmarks/compressed.py [--crops 1000000]
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
from scale import NOISE, recall_at_10, single_query_ms, sources

from platesearch import vectors
from platesearch.model import default_embedder
from platesearch.render import render_plate

MEMORY_PROBE = (
    "import os,sys;from platesearch import vectors;"
    "rss=lambda:int(open('/proc/self/statm').read().split()[1])*os.sysconf('SC_PAGE_SIZE');"
    "before=rss();index=vectors.read(sys.argv[1]);print(rss()-before)"
)


def simulated(base: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` noisy sightings of the source embeddings, and which source each one is."""
    picks = rng.integers(0, len(base), count)
    points = base[picks] + rng.normal(0, NOISE, (count, base.shape[1])).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True), picks


def plate_recall(index: faiss.Index, exact: faiss.Index, plate_of: np.ndarray, queries: np.ndarray) -> float:
    """Of the distinct plates among exact search's 10 nearest crops, the share also among the index's 10."""
    _, found = index.search(queries, 10)
    _, truth = exact.search(queries, 10)
    shares = [
        len(set(plate_of[f - 1]) & set(plate_of[t - 1])) / len(set(plate_of[t - 1]))
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(shares))


def cosine_lost(index: faiss.Index, exact: faiss.Index, points: np.ndarray, queries: np.ndarray) -> float:
    """Mean exact cosine of exact search's 10th neighbour minus that of `index`'s 10th (ids are row + 1)."""
    _, found = index.search(queries, 10)
    truth_scores, _ = exact.search(queries, 10)
    found_scores = np.sort(np.einsum("qd,qkd->qk", queries, points[found - 1]), axis=1)[:, ::-1]
    return max(0.0, float(np.mean(truth_scores[:, 9] - found_scores[:, 9])))  # not -0.0 from rounding


def bytes_per_crop(index: faiss.Index, count: int) -> tuple[float, float]:
    """(on disk, resident in a fresh process) bytes per crop of the serialized index."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "vectors.faiss"
        path.write_bytes(vectors.serialize(index))
        disk = path.stat().st_size / count
        grown = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(path)], check=True, capture_output=True, text=True
        )
        return disk, int(grown.stdout.strip()) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops", type=int, default=1_000_000)
    parser.add_argument("--synthetic", type=int, default=4000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    base, texts, plates = sources(args.synthetic, rng)
    points, picks = simulated(base, args.crops, rng)
    plate_of = np.array(texts)[picks]  # the plate text each simulated crop shows
    ids = np.arange(1, args.crops + 1, dtype=np.int64)
    queries = default_embedder().embed(np.stack([render_plate(p) for p in plates]))
    exact = vectors.build(vectors.EXACT, ids, points, points.shape[1])
    print(f"{args.crops:,} crops, {len(queries)} queries, one at a time (FAISS only)\n")
    print(
        "| index | build | search p50 / p99 (ms) | recall@10 vs exact | plates in top 10 vs exact | cosine lost "
        "| disk per crop | memory per crop |"
    )
    print("|---|---|---|---|---|---|---|---|")
    disk, memory = bytes_per_crop(exact, args.crops)
    print(
        f"| exact (FlatIP) | - | {single_query_ms(exact, queries)} | 1.0000 | 1.0000 | 0 | {disk:.0f} B | {memory:.0f} B |"
    )
    for kind in (vectors.IVF, vectors.IVF_SQ8):
        started = time.perf_counter()
        index = vectors.build(kind, ids, points, points.shape[1])
        build = time.perf_counter() - started
        disk, memory = bytes_per_crop(index, args.crops)
        for nprobe in (16, 32, 64):
            index.nprobe = nprobe
            default = " (default)" if nprobe == vectors.IVF_NPROBE else ""
            print(
                f"| {kind}, {index.nlist} lists, nprobe {nprobe}{default} | {build:.0f} s "
                f"| {single_query_ms(index, queries)} | {recall_at_10(index, exact, queries):.4f} "
                f"| {plate_recall(index, exact, plate_of, queries):.4f} "
                f"| {cosine_lost(index, exact, points, queries):.5f} | {disk:.0f} B | {memory:.0f} B |",
                flush=True,
            )


if __name__ == "__main__":
    main()
