"""Fill experiments/RESULTS.md: methods x datasets x top-1/top-3/MRR, on plates held out of training.

Protocol (as in the reference study): every held-out plate text of a dataset is a query; the
gallery is every image of that dataset (training plates stay in as distractors); hit@k when
an image labelled with the query's plate is among the first k photos. Indexes are built once
per dataset and model under runs/results/.

Run: .venv/bin/python experiments/results.py [--thesis-model runs/thesis]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from platesearch.datasets import load_dataset
from platesearch.evaluate import evaluate_dataset
from platesearch.model import PlateEmbedder, default_embedder
from platesearch.pipeline import PlateIndex

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
WORK = HERE.parent / "runs" / "results"
DATASETS = {"openalpr-us-crops": True, "openalpr-eu": False, "openalpr-br": False}  # name -> images are crops
OCR_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
TUNING_DATASET = "openalpr-us-crops"


def build_index(name: str, crops: bool, embedder: PlateEmbedder, tag: str, ocr: bool = True) -> tuple[Path, float]:
    """Index a dataset once (a rerun finds every file indexed already and skips it)."""
    directory = WORK / f"{tag}-{name}"
    started = time.perf_counter()
    with PlateIndex.create(directory, embedder) as plate_index:
        plate_index.add([item.path for item in load_dataset(SHARED / name).items], crops=crops, ocr=crops and ocr)
    return directory, time.perf_counter() - started


def row(method: str, model: str, name: str, metrics: dict, note: str = "") -> dict:
    return {
        "method": method,
        "model": model,
        "dataset": name,
        **{k: metrics[k] for k in ("top1", "top3", "top10", "mrr", "queries")},
        "note": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--thesis-model", type=Path, default=None, help="run folder of the study's architecture")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    embedder = default_embedder()
    rows, timings = [], {}
    indexes = {}
    for name, crops in DATASETS.items():
        indexes[name], timings[name] = build_index(name, crops, embedder, "default")
        print(f"indexed {name} in {timings[name]:.0f} s", flush=True)
    # Tune the hybrid's OCR weight on the US validation plates only; report it on EU and BR.
    tuning = {
        w: evaluate_dataset(
            SHARED / TUNING_DATASET,
            indexes[TUNING_DATASET],
            method="hybrid",
            holdout_only=True,
            embedder=embedder,
            ocr_weight=w,
        ).metrics
        for w in OCR_WEIGHTS
    }
    best_weight = max(OCR_WEIGHTS, key=lambda w: (tuning[w]["top1"], tuning[w]["mrr"]))
    print("hybrid tuning:", {w: round(m["top1"], 3) for w, m in tuning.items()}, "->", best_weight, flush=True)
    for name in DATASETS:
        for method in ("embedding", "ocr", "hybrid"):
            report = evaluate_dataset(
                SHARED / name,
                indexes[name],
                method=method,
                holdout_only=True,
                embedder=embedder,
                ocr_weight=best_weight,
            )
            note = (
                f"OCR weight {best_weight} tuned on these queries"
                if method == "hybrid" and name == TUNING_DATASET
                else ""
            )
            model = "EasyOCR only" if method == "ocr" else embedder.manifest.training["config"]
            rows.append(row(method, model, name, report.metrics, note))
            print(rows[-1], flush=True)
    if args.thesis_model:
        thesis = PlateEmbedder(args.thesis_model)
        directory, _ = build_index(TUNING_DATASET, True, thesis, "thesis", ocr=False)
        report = evaluate_dataset(
            SHARED / TUNING_DATASET, directory, method="embedding", holdout_only=True, embedder=thesis
        )
        rows.append(row("embedding", thesis.manifest.training["config"], TUNING_DATASET, report.metrics))
        print(rows[-1], flush=True)
    (HERE / "results.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "hybrid_tuning": {str(w): m for w, m in tuning.items()},
                "best_ocr_weight": best_weight,
            },
            indent=2,
        )
    )
    plot(rows, HERE / "results.png")


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = list(DATASETS)
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), sharey=True)
    for ax, name in zip(axes, datasets, strict=True):
        subset = [r for r in rows if r["dataset"] == name]
        x = np.arange(len(subset))
        ax.bar(x - 0.2, [r["top1"] for r in subset], 0.4, label="top-1")
        ax.bar(x + 0.2, [r["top3"] for r in subset], 0.4, label="top-3")
        ax.set_xticks(x, [f"{r['method']}\n{r['model'][:18]}" for r in subset], fontsize=7)
        ax.set_title(f"{name} (held-out plates)")
        ax.set_ylim(0, 1)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
