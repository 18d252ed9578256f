"""Why IVF-SQ8's recall@10 stays near 0.97: how far apart exact search's 10th and 11th
neighbours are, against the error 8-bit codes add to a cosine; and the recall of FAISS's
other ways of choosing each dimension's range (min-max is the default and what
`vectors.build` uses).

The vectors are `benchmarks/compressed.py`'s simulated sightings (real and generated plate
embeddings plus Gaussian noise), the queries its 200 rendered US plates; FAISS on one thread.

Run: .venv/bin/python benchmarks/sq8_precision.py [--crops 200000] [--lists 1024]
"""

from __future__ import annotations

import argparse

import faiss
import numpy as np
from compressed import simulated
from scale import recall_at_10, sources

from platesearch import vectors
from platesearch.model import default_embedder
from platesearch.render import render_plate

RANGES = {
    "min-max (default)": (faiss.ScalarQuantizer.RS_minmax, 0.0),
    "quantiles 0.0003": (faiss.ScalarQuantizer.RS_quantiles, 0.0003),
    "quantiles 0.001": (faiss.ScalarQuantizer.RS_quantiles, 0.001),
    "mean +- 3 std": (faiss.ScalarQuantizer.RS_meanstd, 3.0),
}


def ivf_sq8(points: np.ndarray, ids: np.ndarray, lists: int, rangestat: int, argument: float) -> faiss.Index:
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(points.shape[1]),
        points.shape[1],
        lists,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )
    index.sq.rangestat, index.sq.rangestat_arg = rangestat, argument
    sample = np.random.default_rng(0).choice(len(points), min(len(points), 100 * lists), replace=False)
    index.train(points[sample])
    index.add_with_ids(points, ids)
    index.nprobe = vectors.IVF_NPROBE
    return index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops", type=int, default=200_000)
    parser.add_argument("--lists", type=int, default=1024)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(7)
    base, _, plates = sources(4000, rng)
    points, _ = simulated(base, args.crops, rng)
    ids = np.arange(1, args.crops + 1, dtype=np.int64)
    queries = default_embedder().embed(np.stack([render_plate(p) for p in plates]))
    exact = vectors.build(vectors.EXACT, ids, points, points.shape[1])
    found, neighbours = exact.search(queries, 11)
    gaps = np.quantile(found[:, 9] - found[:, 10], [0.25, 0.5, 0.75])
    print(f"{args.crops:,} crops, {args.lists} lists, {len(queries)} queries")
    print(f"cosine of the 10th minus the 11th exact neighbour, quartiles: {', '.join(f'{g:.5f}' for g in gaps)}")
    for name, (rangestat, argument) in RANGES.items():
        index = ivf_sq8(points, ids, args.lists, rangestat, argument)
        if name.endswith("(default)"):
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            top = neighbours[:, :10].ravel()
            decoded = index.reconstruct_batch(top)
            error = np.einsum("ij,ij->i", np.repeat(queries, 10, axis=0), decoded - points[top - 1])
            print(f"cosine error of the 8-bit codes (std over the 10 nearest of each query): {error.std():.5f}")
        print(f"{name}: recall@10 {recall_at_10(index, exact, queries):.4f}", flush=True)


if __name__ == "__main__":
    main()
