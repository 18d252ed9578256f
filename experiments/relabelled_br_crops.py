"""The BR camera crops' indexes queried with the labels as shipped and as corrected by eye
(`datasets/relabelled/`): default, embedding and reading, and the whole-image baseline, on
every plate. Nothing is indexed or tuned: the indexes are those `pipeline_at_default.py` built.

Run: .venv/bin/python experiments/relabelled_br_crops.py --out experiments/pipeline_br_crops_relabelled.json \
         before=DIR left_out_reader=DIR shipped_reader=DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from photos import BUILD, KS, ROOT, SHARED

from platesearch.evaluate import evaluate_baseline, evaluate_dataset

FOLDER = SHARED / "openalpr-br-crops"
LABELS = {"as_labelled": None, "corrected": ROOT / "datasets" / "relabelled" / "openalpr-br-crops.csv"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("indexes", nargs="+", help="NAME=INDEX_DIR, an index of the BR camera crops")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results: dict = {}
    for entry in args.indexes:
        name, index_dir = entry.split("=", 1)
        for labels_name, labels in LABELS.items():
            row: dict = {}
            for method in ("hybrid", "embedding", "ocr"):
                report = evaluate_dataset(FOLDER, index_dir, ks=KS, method=method, labels=labels)
                row[method] = report.metrics
                row[f"{method}_missed_at_1"] = [o.plate for o in report.misses]
            results.setdefault(name, {})[labels_name] = row
            print(name, labels_name, {m: round(row[m]["top1"], 3) for m in ("hybrid", "embedding", "ocr")}, flush=True)
    for labels_name, labels in LABELS.items():
        cache = BUILD / "baseline" / f"{FOLDER.name}.json"
        results.setdefault("baseline", {})[labels_name] = evaluate_baseline(
            FOLDER, ks=KS, cache_file=cache, labels=labels
        ).metrics
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
