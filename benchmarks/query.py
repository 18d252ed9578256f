"""Query latency on a real index, model load time and CLI cold start.

Builds (once) an index of the 751 real US crops in --crops mode, then times
`PlateIndex.search` end to end (normalize, render, embed, FAISS search, catalog lookup)
for every distinct plate, several rounds.

Run: .venv/bin/python benchmarks/query.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from platesearch.datasets import load_dataset
from platesearch.model import PlateEmbedder
from platesearch.pipeline import PlateIndex

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
INDEX = HERE.parent / "runs" / "bench-us-crops"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loads = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        embedder = PlateEmbedder()
        embedder.embed(np.full((1, 64, 512), 255, np.uint8))
        loads.append(time.perf_counter() - started)
    dataset = load_dataset(SHARED / "openalpr-us-crops")
    with PlateIndex.create(INDEX, embedder) as plate_index:
        plate_index.add([i.path for i in dataset.items], crops=True)  # indexing speed: benchmarks/indexing.py
    latencies = []
    with PlateIndex.open(INDEX, embedder) as plate_index:
        size = plate_index.stats()["crops"]
        for _ in range(args.rounds):
            for plate in dataset.plates:
                started = time.perf_counter()
                plate_index.search(plate, k=3)
                latencies.append(time.perf_counter() - started)
    helps, colds = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "platesearch", "--help"], check=True, capture_output=True)
        helps.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "platesearch", "query", dataset.plates[0], "--index", str(INDEX), "--json"],
            check=True,
            capture_output=True,
        )
        colds.append(time.perf_counter() - started)
    ms = sorted(1000 * x for x in latencies)
    print(f"| model load + first embed, first in the process (TensorFlow import included) (s) | {loads[0]:.2f} |")
    again = loads[1:] or loads
    print(
        f"| model load + first embed, again in a warm process (s) | min {min(again):.2f} / median {statistics.median(again):.2f} / max {max(again):.2f} |"
    )
    print(
        f"| query latency over {size} crops, {len(ms)} queries (ms) | p50 {ms[len(ms) // 2]:.1f} / p99 {ms[int(len(ms) * 0.99)]:.1f} / max {ms[-1]:.1f} |"
    )
    print(
        f"| CLI `--help`, cold process (s) | min {min(helps):.2f} / median {statistics.median(helps):.2f} / max {max(helps):.2f} |"
    )
    print(
        f"| CLI `query --json`, cold process (s) | min {min(colds):.2f} / median {statistics.median(colds):.2f} / max {max(colds):.2f} |"
    )


if __name__ == "__main__":
    main()
