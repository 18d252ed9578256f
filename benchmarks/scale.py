"""Query latency at 10k, 100k and 1M indexed crops; exact vs IVF vs HNSW; memory and disk per crop.

The collection is simulated from real embeddings: the 751 real US crops of
../shared/datasets/openalpr-us-crops plus --synthetic generated plate crops (platesearch.synth,
binarized like real ones) are embedded with the shipped model; each indexed crop is one of
these picked at random plus Gaussian noise (sigma 0.03 per dimension, then re-normalized:
cosine about 0.9 to its source, like another sighting of the same plate). Each crop gets an
"OCR reading": its source's plate text with each character replaced at random with
probability 0.1. The catalog rows and vector files are written through IndexStore, so the
automatic switch to IVF (and its re-training as the index grows) is the one users get.

Queries: the texts of 200 real US plates, through PlateIndex.search (normalize, render,
embed, vector search, OCR trigram candidates, catalog lookup), default hybrid method and
embedding only; p50 / p99 over 3 rounds. recall@10: the approximate index's 10 nearest crops
against exact search, for the rendered query vectors.

Run: .venv/bin/python benchmarks/scale.py [--sizes 10000 100000 1000000] [--synthetic 4000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from platesearch import vectors
from platesearch.binarize import binarize
from platesearch.catalog import PhotoRow
from platesearch.datasets import load_dataset
from platesearch.media import read_image
from platesearch.model import default_embedder
from platesearch.pipeline import PlateIndex
from platesearch.records import CropRow
from platesearch.render import render_plate
from platesearch.store import IndexStore
from platesearch.synth import random_plate_text, synthetic_plate_photo

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
NOISE = 0.03
READ_ERROR = 0.1
CHUNK = 50_000
QUERIES = 200
ROUNDS = 3
CHARACTERS = np.array(list(string.ascii_uppercase + string.digits))


def sources(synthetic: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str], list[str]]:
    """Embeddings and plate texts of the real crops and of `synthetic` generated crops; the query plates."""
    embedder = default_embedder()
    dataset = load_dataset(SHARED / "openalpr-us-crops")
    images = [binarize(read_image(item.path)) for item in dataset.items]
    texts = [item.plate for item in dataset.items]
    for _ in range(synthetic):
        text = random_plate_text(rng)
        images.append(binarize(synthetic_plate_photo(text, rng)))
        texts.append(text)
    return embedder.embed(np.stack(images)), texts, sorted(set(dataset.plates))[:QUERIES]


def misread(text: str, rng: np.random.Generator) -> str:
    chars = np.array(list(text))
    wrong = rng.random(len(chars)) < READ_ERROR
    chars[wrong] = rng.choice(CHARACTERS, wrong.sum())
    return "".join(chars)


def grow(store: IndexStore, target: int, base: np.ndarray, texts: list[str], rng: np.random.Generator) -> np.ndarray:
    """Add simulated crops until the store holds `target`; returns the vectors added."""
    added = []
    while store.vectors.ntotal < target:
        count = min(CHUNK, target - store.vectors.ntotal)
        start = store.vectors.ntotal
        picks = rng.integers(0, len(base), count)
        points = base[picks] + rng.normal(0, NOISE, (count, base.shape[1])).astype(np.float32)
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        photos = [
            PhotoRow(
                f"/sightings/{start + i}.jpg",
                f"{start + i:064x}",
                0,
                0.0,
                [CropRow((0, 0, 320, 160), misread(texts[p], rng))],
            )
            for i, p in enumerate(picks)
        ]
        store.add_batch(photos, points, [], {})
        added.append(points)
    return np.concatenate(added)


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f}"


def query_latency(directory: Path, plates: list[str], method: str) -> list[float]:
    with PlateIndex.open(directory, default_embedder()) as plate_index:
        plate_index.search(plates[0], k=3, method=method)
        timings = []
        for _ in range(ROUNDS):
            for plate in plates:
                started = time.perf_counter()
                plate_index.search(plate, k=3, method=method)
                timings.append(time.perf_counter() - started)
    return timings


def recall_at_10(index: faiss.Index, exact: faiss.Index, queries: np.ndarray) -> float:
    _, found = index.search(queries, 10)
    _, truth = exact.search(queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))


def single_query_ms(index: faiss.Index, queries: np.ndarray) -> str:
    timings = []
    for query in queries:
        started = time.perf_counter()
        index.search(query[None], 10)
        timings.append(time.perf_counter() - started)
    return percentiles(timings)


class _ByCropId:
    """An index searched by position, answering crop ids (HNSW cannot hold ids of its own and remove them)."""

    def __init__(self, index: faiss.Index, ids: np.ndarray) -> None:
        self.index, self.ids = index, ids

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, positions = self.index.search(queries, k)
        return scores, self.ids[positions]


def compare_indexes(stored: faiss.Index, queries: np.ndarray) -> list[str]:
    """Exact, IVF at several nprobe, HNSW at several efSearch, over the same vectors."""
    ids, points = vectors.stored_vectors(stored)
    exact = vectors.build(vectors.EXACT, ids, points, points.shape[1])
    rows = [f"| exact (FlatIP) | - | {single_query_ms(exact, queries)} | 1.000 |"]
    ivf = faiss.extract_index_ivf(stored)
    for nprobe in (8, 16, 32, 64):
        ivf.nprobe = nprobe
        rows.append(
            f"| IVF-Flat, {ivf.nlist} lists, nprobe {nprobe} | (auto-built) | {single_query_ms(ivf, queries)} "
            f"| {recall_at_10(ivf, exact, queries):.4f} |"
        )
    vectors.prepare_for_search(ivf)
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(points.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    hnsw.add(points)
    hnsw_ids = _ByCropId(hnsw, ids)
    build = time.perf_counter() - started
    for ef in (64, 128, 256):
        hnsw.hnsw.efSearch = ef
        rows.append(
            f"| HNSW-Flat M 32, efSearch {ef} | {build:.0f} s | {single_query_ms(hnsw_ids, queries)} "
            f"| {recall_at_10(hnsw_ids, exact, queries):.4f} |"
        )
    return rows


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def reader_memory_mib(directory: Path) -> float:
    """Resident memory a fresh process adds by opening the index and answering a query (model loaded first)."""
    code = (
        "import os,sys;from platesearch.model import default_embedder;from platesearch.pipeline import PlateIndex;"
        "rss=lambda:int(open('/proc/self/statm').read().split()[1])*os.sysconf('SC_PAGE_SIZE');"
        "e=default_embedder();e.embed(__import__('numpy').full((1,64,512),255,'uint8'));before=rss();"
        "i=PlateIndex.open(sys.argv[1],e);i.search('ABC1234');print((rss()-before)/2**20)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(directory)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def cold_cli_query(directory: Path, plate: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "platesearch", "query", plate, "--index", str(directory), "--json"]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--synthetic", type=int, default=4000, help="generated plate crops besides the 751 real ones")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    base, texts, plates = sources(args.synthetic, rng)
    print(f"{len(base)} source embeddings in {time.perf_counter() - started:.0f} s; {len(plates)} query plates")
    work = Path(tempfile.mkdtemp(prefix="platesearch-scale-"))
    directory = work / "index"
    embedder = default_embedder()
    manifest = PlateIndex.manifest_for(embedder)
    results = []
    try:
        print(
            "| indexed crops | vector index | hybrid query p50 / p99 (ms) | embedding-only p50 / p99 (ms) | disk per crop | reader memory per crop | CLI cold query (s) |"
        )
        print("|---|---|---|---|---|---|---|")
        for size in sorted(args.sizes):
            store = IndexStore.create_or_open(directory, manifest)
            started = time.perf_counter()
            grow(store, size, base, texts, rng)
            build = time.perf_counter() - started
            kind = vectors.kind_of(store.vectors)
            if kind == vectors.IVF:
                kind += f" ({store.vectors.nlist} lists, nprobe {store.vectors.nprobe})"
            store.close()
            hybrid = query_latency(directory, plates, "hybrid")
            embedding = query_latency(directory, plates, "embedding")
            disk = directory_bytes(directory) / size
            memory = reader_memory_mib(directory) * 1024 * 1024 / size
            cold = cold_cli_query(directory, plates[0])
            row = {
                "size": size,
                "vector_index": kind,
                "hybrid_ms": percentiles(hybrid),
                "embedding_ms": percentiles(embedding),
                "disk_bytes_per_crop": disk,
                "reader_bytes_per_crop": memory,
                "cold_cli_s": cold,
                "grow_s": build,
            }
            results.append(row)
            print(
                f"| {size:,} | {kind} | {row['hybrid_ms']} | {row['embedding_ms']} | {disk / 1024:.2f} KiB "
                f"| {memory / 1024:.2f} KiB | {cold:.2f} |",
                flush=True,
            )
        store = IndexStore.open_readonly(directory, manifest)
        if vectors.kind_of(store.vectors) == vectors.IVF:
            queries = embedder.embed(np.stack([render_plate(p) for p in plates]))
            print(f"\nAt {store.vectors.ntotal:,} crops, one query vector at a time (FAISS only):\n")
            print("| index | build | search p50 / p99 (ms) | recall@10 vs exact |")
            print("|---|---|---|---|")
            for line in compare_indexes(store.vectors, queries):
                print(line, flush=True)
        store.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak resident memory of the benchmark process: {peak:.0f} MiB")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
