"""The demo on the bundled real sample: index it, query a few of its plates, draw a sheet."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from platesearch.config import sample_dir
from platesearch.datasets import load_dataset
from platesearch.media import absolute_path
from platesearch.pipeline import PlateIndex
from platesearch.records import SearchResult
from platesearch.sheet import draw_sheet


def run_demo(
    out_dir: Path, say: Callable[[str], None], queries_per_set: int = 3, sample: Path | None = None
) -> list[tuple[str, list[SearchResult]]]:
    """Index a sample (default: the shipped one; `crops/` and `photos/` folders with labels.csv)
    into `out_dir/index` and answer a few of its plates."""
    sample = sample or sample_dir()
    if not (sample / "crops").is_dir() or not (sample / "photos").is_dir():
        raise FileNotFoundError(f"{sample} is not a sample: it needs crops/ and photos/ folders with labels.csv")
    index_dir = out_dir / "index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    answers = []
    with PlateIndex.create(index_dir) as plate_index:
        for subset, crops in (("crops", True), ("photos", False)):
            dataset = load_dataset(sample / subset)
            say(f"indexing {len(dataset.items)} {subset} from {dataset.root} ...")
            report = plate_index.add([item.path for item in dataset.items], crops=crops)
            say(f"  {report.indexed} indexed, {report.candidates} candidate crops, {len(report.failed)} failed")
            for item in dataset.items[:queries_per_set]:
                results = plate_index.search(item.plate, k=3)
                answers.append((item.plate, results))
                hit = next((r.rank for r in results if Path(r.path) == absolute_path(item.path)), None)
                say(
                    f"query {item.plate}: "
                    + (f"found at rank {hit}" if hit else "not in the top 3")
                    + f" (photo {item.path.name})"
                )
                for r in results:
                    say(f"  {r.rank}. score {r.score:.3f}  {Path(r.path).name}  box {list(r.box)}")
        plate, results = answers[-1]
        sheet = draw_sheet(plate, results, out_dir / f"sheet-{plate}.png")
        say(f"sheet: {sheet}")
    return answers
