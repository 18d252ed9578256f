"""The demo on the bundled real sample: index it, query a few of its plates, draw a sheet."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from platesearch.config import PACKAGE_DIR
from platesearch.datasets import load_dataset
from platesearch.media import absolute_path
from platesearch.pipeline import PlateIndex
from platesearch.records import SearchResult
from platesearch.sheet import draw_sheet

SAMPLE_DIR = PACKAGE_DIR.parent / "datasets" / "sample"


def run_demo(
    out_dir: Path, say: Callable[[str], None], queries_per_set: int = 3
) -> list[tuple[str, list[SearchResult]]]:
    """Index datasets/sample (crops and photos) into `out_dir/index` and answer a few queries."""
    if not SAMPLE_DIR.is_dir():
        raise FileNotFoundError(f"the bundled sample is missing: {SAMPLE_DIR}")
    index_dir = out_dir / "index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    answers = []
    with PlateIndex.create(index_dir) as plate_index:
        for subset, crops in (("crops", True), ("photos", False)):
            dataset = load_dataset(SAMPLE_DIR / subset)
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
