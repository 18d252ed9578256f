"""Rebuild datasets/sample/ from ../shared/datasets: a small real sample for the demo and tests.

Only plates held out of training (platesearch.datasets.is_validation_plate) are taken, so
the demo and the tests that use the sample never see a plate the shipped model trained on.
Run: `.venv/bin/python datasets/make_sample.py`.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from platesearch.datasets import is_validation_plate, load_dataset

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
SAMPLE = HERE / "sample"
# (source folder, sample folder, how many images, largest file size taken in bytes)
PICKS = [
    ("openalpr-us-crops", "crops", 30, 150_000),
    ("openalpr-eu", "photos", 12, 200_000),
    ("openalpr-br", "photos", 6, 250_000),
]


def main() -> None:
    if SAMPLE.exists():
        shutil.rmtree(SAMPLE)
    rows: dict[str, list[list[str]]] = {}
    for source, target, count, max_bytes in PICKS:
        dataset = load_dataset(SHARED / source)
        chosen = [i for i in dataset.items if is_validation_plate(i.plate) and i.path.stat().st_size <= max_bytes][
            :count
        ]
        (SAMPLE / target / "images").mkdir(parents=True, exist_ok=True)
        for item in chosen:
            name = f"{source.removeprefix('openalpr-')}-{item.path.name}"
            shutil.copy(item.path, SAMPLE / target / "images" / name)
            row = [f"images/{name}", item.plate]
            rows.setdefault(target, []).append(row + ([str(v) for v in item.box] if item.box else []))
    for target, target_rows in rows.items():
        with open(SAMPLE / target / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", "plate"] + (["x", "y", "w", "h"] if len(target_rows[0]) > 2 else []))
            writer.writerows(target_rows)
        print(f"{target}: {len(target_rows)} images")
    shutil.copy(SHARED / "LICENSE-openalpr-benchmarks.txt", SAMPLE / "LICENSE-openalpr-benchmarks.txt")


if __name__ == "__main__":
    main()
