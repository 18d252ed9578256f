"""How much less a reading of small text should weigh, chosen leave one dataset out.

Each query's candidates come from experiments/fusion_grid.py's `gather` (cached per set, with
each candidate's box height). A grid point is (OCR weight, stray-end cost, reading factor,
height); the OCR weight stays the shipped 0.8 (fusion_grid.py searches it) and the stray-end
cost the shipped 0.25, because it also decides what counts as an exact reading (two stray
characters would pass at 0.15) and the watch list's thresholds were measured with it. Crops whose box is less than `height` photo pixels tall weigh their reading by
`factor` times the OCR weight (`scoring.SMALL_TEXT_HEIGHT`, `SMALL_TEXT_READING_FACTOR`);
factor 1 is the fusion before the rule. For each set, the point with the best mean top-1 over
all the *other* sets is chosen (ties: the rule off, then the larger factor, then the lower
height) and scored on it,
on all plates and on the plates held out of training. A stricter protocol leaves out every set
made from the same source photos (eu-in-1920 is openalpr-eu's photos in larger frames).

Run: cd experiments && ../.venv/bin/python fusion_small_text.py --indexes ../runs/X --cache ../build/fusion-X --out F
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from fusion_grid import gathered_sets
from photos import SETS

from platesearch import scoring
from platesearch.datasets import is_validation_plate

OCR_WEIGHTS = (0.8,)
STRAY_END_COSTS = (0.25,)
FACTORS = (1.0, 0.75, 0.5, 0.375)
HEIGHTS = (10, 12, 14, 16, 20, 24)
GRID = [
    (w, c, f, h) for w in OCR_WEIGHTS for c in STRAY_END_COSTS for f in FACTORS for h in HEIGHTS if f < 1 or h == 12
]
BEFORE = (0.8, 0.25, 1.0, 12)  # the fusion before the rule


def top1_hits(q: dict, plate: str, labelled: dict, setting: tuple) -> bool:
    """Whether the first photo of search_store's ranking at this grid point is labelled `plate`."""
    weight, cost, factor, height = setting
    scoring.SMALL_TEXT_READING_FACTOR, scoring.SMALL_TEXT_HEIGHT = factor, height
    fused = scoring.hybrid_scores(q["cos"], q["sims"][cost], plate, weight, q["heights"])
    first = q["paths"][int(np.argmax(fused))]  # argmax: the first of equal scores, as a stable sort
    return plate in labelled.get(first, ())


def choose(table: dict, left_out: set[str]) -> tuple:
    others = [n for n in table if n not in left_out]
    means = {s: np.mean([table[n][s].mean() for n in others]) for s in GRID}
    return max(GRID, key=lambda s: (round(means[s], 6), s[2] == 1.0, s == BEFORE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", default=list(SETS))
    parser.add_argument("--indexes", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = gathered_sets(args.indexes, args.cache, args.sets)
    source = {name: SETS[name][2] for name in data}
    out: dict = {"grid": [list(s) for s in GRID], "before": list(BEFORE)}
    for queries in ("all", "holdout"):
        table = {
            name: {
                s: np.array(
                    [
                        top1_hits(q, plate, d["labelled"], s)
                        for plate, q in d["queries"].items()
                        if not (queries == "holdout" and not is_validation_plate(plate))
                    ]
                )
                for s in GRID
            }
            for name, d in data.items()
        }
        for protocol, left_out_of in (
            ("leave one dataset out", lambda n: {n}),
            ("leave one source out", lambda n: {m for m in data if source[m] == source[n]}),
        ):
            rows = {}
            for name in data:
                chosen = choose(table, left_out_of(name))
                before, after = table[name][BEFORE], table[name][chosen]
                rows[name] = {
                    "setting": list(chosen),
                    "queries": int(len(after)),
                    "top1": float(after.mean()),
                    "before": float(before.mean()),
                    "gained": int((after & ~before).sum()),
                    "lost": int((before & ~after).sum()),
                }
                print(
                    f"{queries:8s} {protocol:22s} {name:18s} {chosen}: {after.mean():.3f} (before {before.mean():.3f})"
                )
            out.setdefault(queries, {})[protocol] = rows
        chosen_everywhere = choose(table, set())
        out.setdefault(queries, {})["over every set"] = list(chosen_everywhere)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
