"""Issue #17's alert quality: watch lists against indexes of the visible photo sets.

For each set, half of its labelled plates (every other one, sorted) go on the watch list and
every photo counts as newly indexed. An alert is right when its photo is labelled with the
watched plate. Recall: watched (plate, photo) pairs that got an alert; precision: alerts that
are right. Then 1,000 random plates that are in none of the set's labels (same lengths as the
real ones) make a second list: every alert on it is false; reported per 1,000 photos.
Both match modes, at the default --min-score (0). `--lenient-reading` / `--lenient-cosine`
replace the lenient thresholds (to report a set with the thresholds chosen without it);
`--decoys N --decoy-seed S` draw another random list (to choose thresholds on a list that is
not the one reported).

Run: .venv/bin/python experiments/watch_quality.py --set openalpr-eu=runs/results/default-openalpr-eu ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from platesearch import watch
from platesearch.datasets import load_dataset
from platesearch.media import absolute_path
from platesearch.pipeline import PlateIndex
from platesearch.watch import EXACT_MODE, LENIENT_MODE, alerts_for

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RANDOM_PLATES = 1000
CHARACTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))


def measure(name: str, index_dir: Path, decoy_count: int = RANDOM_PLATES, decoy_seed: int = 0) -> list[dict]:
    dataset = load_dataset(SHARED / name)
    labelled: dict[str, set[str]] = {}
    for item in dataset.items:
        labelled.setdefault(str(absolute_path(item.path)), set()).add(item.plate)
    plates = sorted(set(dataset.plates))
    watched = plates[::2]
    rng = np.random.default_rng(decoy_seed)
    lengths = [len(p) for p in plates]
    decoys: list[str] = []
    while len(decoys) < decoy_count:
        decoy = "".join(rng.choice(CHARACTERS, rng.choice(lengths)))
        if decoy not in plates and decoy not in decoys:
            decoys.append(decoy)
    rows = []
    with PlateIndex.open(index_dir) as plate_index:
        paths = [path for path in labelled if plate_index.indexed_path(path) == path]
        for mode in (EXACT_MODE, LENIENT_MODE):
            alerts = alerts_for(plate_index, paths, watched, mode, 0.0)
            pairs = {(a.plate, a.path) for a in alerts}
            right = {(plate, path) for plate, path in pairs if plate in labelled[path]}
            wanted = {(plate, path) for path in paths for plate in labelled[path] if plate in watched}
            false = alerts_for(plate_index, paths, decoys, mode, 0.0)
            rows.append(
                {
                    "set": name,
                    "mode": mode,
                    "photos": len(paths),
                    "watched_plates": len(watched),
                    "watched_sightings": len(wanted),
                    "alerts": len(pairs),
                    "precision": len(right) / len(pairs) if pairs else None,
                    "recall": len(right & wanted) / len(wanted) if wanted else None,
                    "false_alerts_per_1000_photos_random_list": 1000
                    * len({(a.plate, a.path) for a in false})
                    / len(paths),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", required=True, help="DATASET=INDEX_DIR (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("experiments/watch_quality.json"))
    parser.add_argument("--lenient-reading", type=float, default=watch.LENIENT_READING)
    parser.add_argument("--lenient-cosine", type=float, default=watch.LENIENT_COSINE)
    parser.add_argument("--decoys", type=int, default=RANDOM_PLATES, help="random plates in the second list")
    parser.add_argument("--decoy-seed", type=int, default=0)
    args = parser.parse_args()
    watch.LENIENT_READING, watch.LENIENT_COSINE = args.lenient_reading, args.lenient_cosine
    rows = []
    for spec in args.set:
        name, index_dir = spec.split("=", 1)
        rows += measure(name, Path(index_dir), args.decoys, args.decoy_seed)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
