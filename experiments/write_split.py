"""Write experiments/split.csv: which plates of ../shared/datasets are held out of training.

The split is a hash of the plate text (platesearch.datasets.is_validation_plate), so it is
the same on every machine; this file writes it down for the record.
Run: .venv/bin/python experiments/write_split.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from platesearch.datasets import is_validation_plate, load_dataset

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"


def main() -> None:
    rows = []
    for name in ("openalpr-us-crops", "openalpr-eu", "openalpr-br"):
        for item in load_dataset(SHARED / name).items:
            rows.append(
                [
                    name,
                    item.path.relative_to(SHARED / name).as_posix(),
                    item.plate,
                    "validation" if is_validation_plate(item.plate) else "train",
                ]
            )
    with open(HERE / "split.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "image", "plate", "side"])
        writer.writerows(rows)
    for name in ("openalpr-us-crops", "openalpr-eu", "openalpr-br"):
        held = [r for r in rows if r[0] == name and r[3] == "validation"]
        print(f"{name}: {len(held)} validation images, {len({r[2] for r in held})} plates")


if __name__ == "__main__":
    main()
