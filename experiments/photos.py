"""Issue #12's table: every visible set and stress variant, each method, beside the whole-image baseline.

For each set: index it once (build/indexes/NAME), then
- localization recall (a candidate box with IoU >= 0.3 against the labelled plate) per
  plate-width band, and candidates per photo, read back from the index's catalog;
- top-1 / top-3 of embedding, reading ("ocr") and hybrid search at each point of a grid (OCR
  weight x the cost of a stray character at a reading's end), on every plate of the set and
  on the plates held out of the model's training;
- the baseline (EasyOCR readtext over each whole image, `platesearch.baseline`), readings
  cached in build/baseline/NAME.json.
The hybrid's settings are chosen leave-one-dataset-out: for each set, the grid point with the
best mean top-1 over all the other sets (`choose_settings`). Results: build/photos.json.

Make the stress variants first: .venv/bin/python datasets/make_stress.py
Run: .venv/bin/python experiments/photos.py [--sets NAME ...] [--workers 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from platesearch import textmatch
from platesearch.datasets import load_dataset
from platesearch.evaluate import evaluate_baseline, evaluate_dataset
from platesearch.media import absolute_path, file_sha256
from platesearch.metrics import box_iou
from platesearch.model import DEFAULT_MODEL_DIR, MANIFEST_FILE, ModelManifest, PlateEmbedder
from platesearch.pipeline import PlateIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
STRESS = ROOT / "build" / "stress"
BUILD = ROOT / "build"
# name -> (folder, images are crops, the dataset its images come from)
SETS = {
    "openalpr-eu": (SHARED / "openalpr-eu", False, "openalpr-eu"),
    "openalpr-br": (SHARED / "openalpr-br", False, "openalpr-br"),
    "easypr-cn": (SHARED / "easypr-cn", False, "easypr-cn"),
    "eu-in-1920": (STRESS / "eu-in-1920", False, "openalpr-eu"),
    "br-in-1920": (STRESS / "br-in-1920", False, "openalpr-br"),
    "eu-in-4032": (STRESS / "eu-in-4032", False, "openalpr-eu"),
    "br-in-4032": (STRESS / "br-in-4032", False, "openalpr-br"),
    "eu-in-1280": (STRESS / "eu-in-1280", False, "openalpr-eu"),
    "br-in-1280": (STRESS / "br-in-1280", False, "openalpr-br"),
    "us-on-cars-1280": (STRESS / "us-on-cars-1280", False, "openalpr-us-crops"),
    "us-on-cars-1280-b": (STRESS / "us-on-cars-1280-b", False, "openalpr-us-crops"),
    "us-on-cars-1280-night": (STRESS / "us-on-cars-1280-night", False, "openalpr-us-crops"),
    "us-on-cars-1280-blur": (STRESS / "us-on-cars-1280-blur", False, "openalpr-us-crops"),
    "us-on-cars-1280-night-2": (STRESS / "us-on-cars-1280-night-2", False, "openalpr-us-crops"),
    "us-on-cars-1280-blur-2": (STRESS / "us-on-cars-1280-blur-2", False, "openalpr-us-crops"),
    "us-on-cars-1280-defocus": (STRESS / "us-on-cars-1280-defocus", False, "openalpr-us-crops"),
    "us-on-cars-1280-defocus-2": (STRESS / "us-on-cars-1280-defocus-2", False, "openalpr-us-crops"),
    "us-on-cars-1280-c": (STRESS / "us-on-cars-1280-c", False, "openalpr-us-crops"),
    "us-on-cars-1280-night-3": (STRESS / "us-on-cars-1280-night-3", False, "openalpr-us-crops"),
    "us-on-cars-1280-blur-3": (STRESS / "us-on-cars-1280-blur-3", False, "openalpr-us-crops"),
    "us-on-cars-1280-defocus-3": (STRESS / "us-on-cars-1280-defocus-3", False, "openalpr-us-crops"),
    "us-on-cars-1280-mild-blur": (STRESS / "us-on-cars-1280-mild-blur", False, "openalpr-us-crops"),
    "us-on-cars-1280-mild-blur-2": (STRESS / "us-on-cars-1280-mild-blur-2", False, "openalpr-us-crops"),
    "us-on-cars-1280-mild-blur-3": (STRESS / "us-on-cars-1280-mild-blur-3", False, "openalpr-us-crops"),
    "openalpr-us-crops": (SHARED / "openalpr-us-crops", True, "openalpr-us-crops"),
    "us-crops-small": (STRESS / "us-crops-small", True, "openalpr-us-crops"),
    "openalpr-br-crops": (SHARED / "openalpr-br-crops", True, "openalpr-br-crops"),
}
OCR_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
STRAY_END_COSTS = (0.15, 0.25)  # textmatch.STRAY_END_COST candidates, chosen with the weight
GRID = [(w, c) for w in OCR_WEIGHTS for c in STRAY_END_COSTS]
WIDTH_BANDS = ((0, 60), (60, 100), (100, 150), (150, 1_000_000))
KS = (1, 3)


def trained_datasets() -> set[str]:
    """The datasets some of whose plates the shipped model trained on (from its manifest)."""
    manifest = ModelManifest.read(DEFAULT_MODEL_DIR / MANIFEST_FILE)
    return set(manifest.training.get("data", {}).get("datasets", {}))


TRAINED_DATASETS = trained_datasets()


def build_index(
    name: str,
    folder: Path,
    crops: bool,
    workers: int,
    indexes: Path,
    readings_from: Path | None = None,
    embedder: PlateEmbedder | None = None,
) -> tuple[Path, float]:
    """Index a set (with the shipped model unless `embedder`); a crop set with `readings_from`
    (an index of the same crops built with another model) is embedded anew and takes its
    readings from there: they do not depend on the model."""
    directory = indexes / name
    reuse = crops and readings_from is not None and (readings_from / name / "catalog.sqlite").is_file()
    started = time.perf_counter()
    with PlateIndex.create(directory, embedder) as plate_index:
        report = plate_index.add(
            [i.path for i in load_dataset(folder).items], crops=crops, ocr=not reuse, workers=workers
        )
    if reuse:
        copy_readings(readings_from / name / "catalog.sqlite", directory / "catalog.sqlite")
    seconds = time.perf_counter() - started
    print(f"{name}: indexed {report.indexed} in {seconds:.0f} s ({report.seconds})", flush=True)
    return directory, seconds


def copy_readings(source: Path, target: Path) -> None:
    """Copy each crop's readings between two indexes of the same whole-image crops, by the photo's
    content hash (a path would differ between checkouts and through symlinks). Every crop must
    find its photo there: a partial copy would make the reading rows silently wrong."""
    db = sqlite3.connect(f"file:{target}", uri=True)
    db.execute("ATTACH DATABASE ? AS source", (f"file:{source}?mode=ro",))
    db.execute(
        """UPDATE crops SET (ocr_text, ocr_confidence) = (
               SELECT c.ocr_text, c.ocr_confidence FROM source.crops c JOIN source.photos p ON p.id = c.photo_id
               JOIN photos q ON q.sha256 = p.sha256 WHERE q.id = crops.photo_id)"""
    )
    (unmatched,) = db.execute(
        "SELECT COUNT(*) FROM crops JOIN photos q ON q.id = crops.photo_id"
        " WHERE q.sha256 NOT IN (SELECT sha256 FROM source.photos)"
    ).fetchone()
    if unmatched:
        db.close()
        raise RuntimeError(f"{unmatched} crops of {target} have no photo in {source} to copy readings from")
    db.execute("INSERT INTO crop_text (crop_text) VALUES ('rebuild')")
    db.commit()
    db.close()


def localization(folder: Path, index_dir: Path) -> dict:
    """Recall at IoU >= 0.3 per plate-width band and candidates per photo, from the catalog.

    A file byte-identical to one indexed before is stored once (under the first path): its
    plate is looked up under that copy. An unreadable photo counts as a miss.
    """
    db = sqlite3.connect(f"file:{index_dir / 'catalog.sqlite'}?mode=ro", uri=True)
    boxes: dict[str, list[tuple[int, int, int, int]]] = {}
    path_of_hash: dict[str, str] = {}
    for path, sha256, x, y, w, h in db.execute(
        "SELECT p.path, p.sha256, c.x, c.y, c.w, c.h FROM photos p LEFT JOIN crops c ON c.photo_id = p.id"
    ):
        boxes.setdefault(path, [])
        if sha256:
            path_of_hash[sha256] = path
        if x is not None:
            boxes[path].append((x, y, w, h))
    db.close()
    found = []
    for item in load_dataset(folder).items:
        path = str(item.path.resolve())
        if path not in boxes and item.path.is_file():
            path = path_of_hash.get(file_sha256(item.path), path)
        candidates = boxes.get(path, [])
        found.append((item.box[2], any(box_iou(c, item.box) >= 0.3 for c in candidates)))
    return localization_figures(found, [len(b) for b in boxes.values()])


def localization_figures(found: list[tuple[int, bool]], candidate_counts: list[int]) -> dict:
    """Recall over labelled plates ((width, found) each), per width band, and median candidates a photo."""
    bands = {}
    for low, high in WIDTH_BANDS:
        inside = [hit for width, hit in found if low <= width < high]
        bands[f"{low}-{high if high < 10**6 else ''}"] = [sum(inside), len(inside)]
    return {
        "recall": sum(hit for _, hit in found) / len(found),
        "bands": bands,
        "median_candidates": statistics.median(candidate_counts),
    }


def evaluate_set(name: str, workers: int, baseline: bool, indexes: Path, readings_from: Path | None) -> dict:
    folder, crops, source = SETS[name]
    trained_on = source in TRAINED_DATASETS
    index_dir, seconds = build_index(name, folder, crops, workers, indexes, readings_from)
    result: dict = {"name": name, "crops": crops, "index_seconds": seconds, "methods": {}}
    if not crops:
        result["localization"] = localization(folder, index_dir)
    query_sets = {"all": False, "holdout": True} if trained_on else {"all": False}
    for queries, holdout in query_sets.items():
        rows = result["methods"].setdefault(queries, {})
        rows["embedding"] = evaluate_dataset(folder, index_dir, ks=KS, method="embedding", holdout_only=holdout).metrics
        for cost in STRAY_END_COSTS:
            textmatch.STRAY_END_COST = cost
            rows[f"ocr/{cost}"] = evaluate_dataset(folder, index_dir, ks=KS, method="ocr", holdout_only=holdout).metrics
            for weight in OCR_WEIGHTS:
                rows[f"hybrid@{weight}/{cost}"] = evaluate_dataset(
                    folder, index_dir, ks=KS, method="hybrid", holdout_only=holdout, ocr_weight=weight
                ).metrics
    if baseline:
        add_baseline(result)
    print(json.dumps(result), flush=True)
    return result


def add_baseline(result: dict, cached_only: bool = False) -> None:
    """The baseline's rows beside the method's (EasyOCR readings cached per set).

    `cached_only`: leave the set without a baseline unless every image's readings are cached.
    """
    folder = SETS[result["name"]][0]
    cache = BUILD / "baseline" / f"{folder.name}.json"
    if cached_only:
        cached = {str(absolute_path(k)) for k in json.loads(cache.read_text())} if cache.is_file() else set()
        missing = {str(absolute_path(i.path)) for i in load_dataset(folder).items} - cached
        if missing:
            print(f"{result['name']}: baseline readings missing for {len(missing)} images; left out")
            return
    for queries, rows in result["methods"].items():
        rows["baseline"] = evaluate_baseline(folder, ks=KS, holdout_only=queries == "holdout", cache_file=cache).metrics


def best_setting(results: list[dict], queries: str = "all") -> tuple[float, float]:
    """The (OCR weight, stray-end cost) with the best mean top-1 over `results`
    (ties: the weight nearer 0.5, then the lower cost)."""
    means = {(w, c): np.mean([r["methods"][queries][f"hybrid@{w}/{c}"]["top1"] for r in results]) for w, c in GRID}
    return max(GRID, key=lambda wc: (means[wc], -abs(wc[0] - 0.5), -wc[1]))


def choose_settings(results: dict[str, dict], queries: str = "all") -> dict[str, tuple[float, float]]:
    """Leave one dataset out: each set gets the best setting over all the other sets."""
    return {
        left_out: best_setting([r for name, r in results.items() if name != left_out], queries) for left_out in results
    }


def _cell(metrics: dict | None) -> str:
    return f"{metrics['top1']:.3f} / {metrics['top3']:.3f}" if metrics else "–"


def markdown(results: dict[str, dict]) -> str:
    """RESULTS.md's tables: localization by plate width, then each method beside the baseline."""
    lines = [
        "| set | photos' plates found (IoU >= 0.3) | < 60 px | 60-100 | 100-150 | > 150 | median candidates |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "localization" in r:
            loc = r["localization"]
            bands = " | ".join(f"{hit}/{n}" if n else "–" for hit, n in loc["bands"].values())
            lines.append(f"| {name} | {loc['recall']:.3f} | {bands} | {loc['median_candidates']:g} |")
    lines += [
        "",
        "| set | queries | default (hybrid) | embedding | reading | baseline: EasyOCR readtext, whole image | hybrid settings (LODO) |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for queries in ("all", "holdout"):
        having = {n: r for n, r in results.items() if queries in r["methods"]}
        if len(having) < 2:
            continue
        chosen = choose_settings(having, queries)
        for name, r in having.items():
            rows = r["methods"][queries]
            weight, cost = chosen[name]
            lines.append(
                f"| {name} | {rows['embedding']['queries']} {queries} | **{_cell(rows[f'hybrid@{weight}/{cost}'])}** | "
                f"{_cell(rows['embedding'])} | {_cell(rows[f'ocr/{cost}'])} | {_cell(rows.get('baseline'))} | "
                f"weight {weight}, stray end {cost} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--table", action="store_true", help="only print the tables of build/photos.json")
    parser.add_argument(
        "--baseline-only", action="store_true", help="only add the baseline (from complete caches) to the results"
    )
    parser.add_argument("--out", type=Path, default=BUILD / "photos.json")
    parser.add_argument(
        "--indexes", type=Path, default=BUILD / "indexes", help="where each set's index is built (one per model)"
    )
    parser.add_argument(
        "--readings-from", type=Path, default=None, help="indexes of the crop sets whose readings to reuse"
    )
    args = parser.parse_args()
    out = args.out
    results = json.loads(out.read_text()) if out.is_file() else {}
    if args.table:
        print(markdown(results))
        return
    if args.baseline_only:
        for name in args.sets:
            if name in results:
                add_baseline(results[name], cached_only=True)
                out.write_text(json.dumps(results, indent=1))
        print(markdown(results))
        return
    for name in args.sets:
        if not SETS[name][0].is_dir():
            print(f"{name}: {SETS[name][0]} is missing (run datasets/make_stress.py)")
            continue
        results[name] = evaluate_set(name, args.workers, not args.no_baseline, args.indexes, args.readings_from)
        out.write_text(json.dumps(results, indent=1))
    if len(results) > 1:
        print("leave-one-dataset-out (OCR weight, stray-end cost):", choose_settings(results))
        print("best over every set (the shipped default):", best_setting(list(results.values())))
        print(markdown(results))


if __name__ == "__main__":
    main()
