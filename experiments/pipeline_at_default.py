"""Every visible set through the whole pipeline with the weights in platesearch/weights, at the
shipped default setting only (no grid, so nothing is tuned on the sets): each set indexed
(crop sets copy their readings from --readings-from, readings do not depend on the model),
then the default hybrid, the embedding and the reading, on all plates and on held-out plates.
Used when the model changes and the fusion setting stays (experiments/RESULTS.md §0). With
--evaluate-only the indexes already in --indexes are queried again (the fusion changed, the
indexes did not); the indexing time and localization recorded in --out are kept. With --model
another model (a training run's folder, such as a left-out run) indexes and answers instead:
what the whole search gets on a set whose plates that model never saw.

Run: .venv/bin/python experiments/pipeline_at_default.py --indexes runs/results5 --readings-from runs/results4 \
         --out experiments/pipeline_v1_new_data.json [SET ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from photos import KS, SETS, build_index, localization

from platesearch.evaluate import evaluate_dataset
from platesearch.model import PlateEmbedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", help=f"default: every set ({', '.join(SETS)})")
    parser.add_argument("--indexes", type=Path, required=True)
    parser.add_argument("--readings-from", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--evaluate-only", action="store_true", help="query the indexes in --indexes again")
    parser.add_argument("--model", type=Path, help="a model folder to use instead of platesearch/weights")
    args = parser.parse_args()
    if unknown := sorted(set(args.sets) - set(SETS)):  # not argparse choices: it rejects an empty list
        parser.error(f"unknown set(s) {unknown}; known: {list(SETS)}")
    embedder = PlateEmbedder(args.model) if args.model else None
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.sets or list(SETS):
        folder, crops, _ = SETS[name]
        started = time.perf_counter()
        if args.evaluate_only:
            if name not in results:
                parser.error(f"--evaluate-only: {args.out} has no entry for {name}; index it first")
            index_dir, result = args.indexes / name, {**results[name], "methods": {}}
        else:
            index_dir, seconds = build_index(
                name, folder, crops, args.workers, args.indexes, args.readings_from, embedder
            )
            result = {"index_seconds": seconds, "methods": {}}
            if not crops:
                result["localization"] = localization(folder, index_dir)
        for queries, holdout in (("all", False), ("holdout", True)):
            rows = result["methods"].setdefault(queries, {})
            for method in ("hybrid", "embedding", "ocr"):
                rows[method] = evaluate_dataset(
                    folder, index_dir, ks=KS, method=method, holdout_only=holdout, embedder=embedder
                ).metrics
        results[name] = result
        args.out.write_text(json.dumps(results, indent=1))
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
