"""Fusion settings searched fast: each query's candidates (cosine, reading similarity at each
stray-end cost, recognizer confidence) gathered once per set from the `runs/results5` indexes,
then every grid point scored in numpy, and the setting chosen leave one dataset out.

The grid adds one dimension to experiments/photos.py's (OCR weight x stray-end cost): how much
a crop's reading weight follows EasyOCR's confidence in it, w_crop = w * (floor + (1 - floor) * confidence).
floor 1 is the shipped fusion.

Run: .venv/bin/python experiments/fusion_grid.py --indexes runs/results5 --out F [SET ...]
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
from photos import SETS

from platesearch import textmatch
from platesearch.datasets import is_validation_plate, load_dataset
from platesearch.pipeline import PlateIndex
from platesearch.scoring import EXACT, EXACT_MIN_LENGTH
from platesearch.search import candidate_pool

OCR_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)
STRAY_END_COSTS = (0.15, 0.25)
FLOORS = (1.0, 0.8, 0.6, 0.4, 0.2)
GRID = [(w, c, f) for w in OCR_WEIGHTS for c in STRAY_END_COSTS for f in FLOORS]
SHIPPED = (0.8, 0.25, 1.0)


def gather(index_dir: Path, folder: Path) -> dict:
    """Per query: candidates' cosines, similarities per cost, confidences and photos."""
    dataset = load_dataset(folder)
    queries = {}
    with PlateIndex.open(index_dir) as plate_index:
        (store,) = plate_index.shards.stores
        labelled: dict[str, list] = {}
        for item in dataset.items:
            path = plate_index.indexed_path(item.path)
            if path is not None:
                labelled.setdefault(path, []).append(item)
        pool = candidate_pool(10)
        for plate in dataset.plates:
            query = plate_index.embed_plate(plate)
            scores, ids = store.search(query[None], k=pool)
            cosines = {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}
            candidates = list(cosines)
            readings = store.ocr_readings(plate)
            for cost in STRAY_END_COSTS:
                textmatch.STRAY_END_COST = cost
                similarity = textmatch.text_similarities(plate, [r for _, r in readings])
                candidates += [readings[i][0] for i in np.argsort(-similarity, kind="stable")[:pool]]
            candidates = list(dict.fromkeys(candidates))
            crops = store.catalog.crops(candidates)
            candidates = [i for i in candidates if i in crops]
            missing = [i for i in candidates if i not in cosines]
            cosines.update(zip(missing, store.cosine(query, missing), strict=True))
            sims = {}
            for cost in STRAY_END_COSTS:
                textmatch.STRAY_END_COST = cost
                sims[cost] = np.array(
                    [s for s, _ in textmatch.best_readings(plate, [crops[i].ocr_text for i in candidates])]
                )
            confidence = [crops[i].ocr_confidence for i in candidates]
            queries[plate] = {
                "cos": np.array([cosines[i] for i in candidates], np.float32),
                "sims": sims,
                "conf": np.array([1.0 if c is None else c for c in confidence], np.float32),
                "places": [crops[i].place for i in candidates],
                "paths": [crops[i].photo_path for i in candidates],
                "heights": np.array([crops[i].box[3] for i in candidates]),
            }
    textmatch.STRAY_END_COST = 0.25
    return {"queries": queries, "labelled": {p: [i.plate for i in items] for p, items in labelled.items()}}


def gathered_sets(indexes: Path, cache: Path, names: list[str]) -> dict[str, dict]:
    """`gather` of each named set's index under `indexes`, cached in `cache` (one pickle a set;
    caches written before box heights were gathered lack "heights")."""
    cache.mkdir(parents=True, exist_ok=True)
    data = {}
    for name in names:
        cached = cache / f"{name}.pkl"
        if not cached.exists():
            cached.write_bytes(pickle.dumps(gather(indexes / name, SETS[name][0])))
        data[name] = pickle.loads(cached.read_bytes())
        print(name, "gathered", flush=True)
    return data


def rank(q: dict, plate: str, labelled: dict, weight: float, cost: float, floor: float) -> int | None:
    """The 1-based rank of the first photo labelled `plate` among the first 10 (search_store's scoring)."""
    sims = q["sims"][cost]
    w = weight * (floor + (1.0 - floor) * q["conf"])
    fused = 0.5 * ((1.0 - w) * np.clip(q["cos"], 0, 1) + w * sims) + 0.5 * (
        (sims >= EXACT) & (len(plate) >= EXACT_MIN_LENGTH)
    )
    seen: dict = {}
    for i in np.argsort(-fused, kind="stable"):
        seen.setdefault(q["places"][i], q["paths"][i])
        if len(seen) == 10:
            break
    return next((n for n, p in enumerate(seen.values(), 1) if plate in labelled.get(p, ())), None)


def top1(data: dict, setting: tuple, holdout: bool) -> float:
    """top-1 of one set at one grid point, on all plates or only those held out of training."""
    ranks = [
        rank(q, plate, data["labelled"], *setting)
        for plate, q in data["queries"].items()
        if is_validation_plate(plate) or not holdout
    ]
    return float(np.mean([r == 1 for r in ranks]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=list(SETS))
    parser.add_argument("--indexes", type=Path, default=Path("runs/results5"))
    parser.add_argument("--cache", type=Path, default=Path("build/fusion"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = gathered_sets(args.indexes, args.cache, args.sets)
    table = {
        queries: {name: {str(s): top1(d, s, queries == "holdout") for s in GRID} for name, d in data.items()}
        for queries in ("all", "holdout")
    }
    out = {"grid": table, "lodo": {}}
    for queries, rows in table.items():
        for left_out in rows:
            others = [n for n in rows if n != left_out]
            means = {s: np.mean([rows[n][str(s)] for n in others]) for s in GRID}
            best = max(GRID, key=lambda s: (round(means[s], 6), s == SHIPPED, -abs(s[0] - 0.5), s[2], -s[1]))
            out["lodo"].setdefault(queries, {})[left_out] = {
                "setting": best,
                "top1": rows[left_out][str(best)],
                "shipped": rows[left_out][str(SHIPPED)],
            }
            print(
                f"{queries:8s} {left_out:18s} choice {best}: {rows[left_out][str(best)]:.3f} (shipped {rows[left_out][str(SHIPPED)]:.3f})"
            )
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
