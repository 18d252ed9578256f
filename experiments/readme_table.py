"""The README's results table, rebuilt from the measurement files it quotes, so that the table
cannot drift from them: each row names the file and entry that hold its default, embedding and
reading figures (written by pipeline_at_default.py or relabelled_br_crops.py) and where its
whole-image baseline comes from (baseline_whole_image.json, `platesearch evaluate DIR --baseline`).
When a change is measured again on a set, pipeline_at_default.py --out
experiments/pipeline_readme.json SET updates that set's entry; then this prints the new table.

Run: .venv/bin/python experiments/readme_table.py           # print the table
     .venv/bin/python experiments/readme_table.py --check   # exit 1 if README.md's table differs
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import NamedTuple

EXPERIMENTS = Path(__file__).resolve().parent
README = EXPERIMENTS.parent / "README.md"
HEADER = (
    "| set | queries | **default** | embedding only | readings only | EasyOCR readtext, whole image |\n"
    "|---|---|---|---|---|---|"
)
PHOTOS = "pipeline_readme.json"  # every photo row: one run of today's code
CROPS = "pipeline_colour_contrast_left_out.json"  # crop sets, the fine-tuned reader left out of them
RELABELLED = "pipeline_br_crops_relabelled.json"
BASELINE = "baseline_whole_image.json"


class Row(NamedTuple):
    label: str
    source: str  # a JSON file in experiments/
    path: tuple[str, ...]  # to the entry holding "hybrid", "embedding" and "ocr"
    baseline: tuple[str, ...]  # the file and the path to the baseline's figures


def _photo(name: str, label: str) -> Row:
    return Row(label, PHOTOS, (name, "methods", "all"), (BASELINE, name))


ROWS = (
    _photo("easypr-cn", "CN traffic scenes (small plates, night) ♭"),
    _photo("openalpr-eu", "EU car photos"),
    _photo("openalpr-br", "BR car photos"),
    _photo("eu-in-1280", "EU photos in 1280x720 frames (40-120 px plates)"),
    _photo("br-in-1280", "BR photos in 1280x720 frames"),
    _photo("eu-in-1920", "EU photos in 1920x1080 frames (40-120 px plates)"),
    _photo("br-in-1920", "BR photos in 1920x1080 frames"),
    _photo("eu-in-4032", "EU photos in 4032x3024 frames"),
    _photo("br-in-4032", "BR photos in 4032x3024 frames"),
    _photo("us-on-cars-1280", "US plates on EU/BR cars, 1280x720 (50-160 px) †"),
    _photo("us-on-cars-1280-b", "the same, other US plates (held out) †"),
    _photo("us-on-cars-1280-c", "a third set: US plates no model trained on, other cars ‖"),
    _photo("us-on-cars-1280-night", "the same at night (dark, noisy) ‡"),
    _photo("us-on-cars-1280-night-2", "the first US plates on cars at night, made after ‡"),
    _photo("us-on-cars-1280-night-3", "the third set at night ‡ ‖"),
    _photo("us-on-cars-1280-blur", "the held-out ones again, motion-blurred ‡"),
    _photo("us-on-cars-1280-blur-2", "the first US plates on cars, motion-blurred, made after ‡"),
    _photo("us-on-cars-1280-blur-3", "the third set motion-blurred ‡ ‖"),
    _photo("us-on-cars-1280-mild-blur", "the held-out ones again, lightly motion-blurred (3-5 px) ‡ ♯"),
    _photo("us-on-cars-1280-mild-blur-2", "the first US plates on cars, lightly motion-blurred ‡ ♯"),
    _photo("us-on-cars-1280-mild-blur-3", "the third set lightly motion-blurred ‡ ‖ ♯"),
    _photo("us-on-cars-1280-defocus", "the held-out ones again, out of focus ‡"),
    _photo("us-on-cars-1280-defocus-2", "the first US plates on cars, out of focus ‡"),
    _photo("us-on-cars-1280-defocus-3", "the third set out of focus ‡ ‖"),
    Row("US plate crops §", CROPS, ("openalpr-us-crops", "methods", "all"), (BASELINE, "openalpr-us-crops")),
    Row(
        "BR camera crops (infrared, light-on-dark) §",
        CROPS,
        ("openalpr-br-crops", "methods", "all"),
        (RELABELLED, "baseline", "as_labelled"),
    ),
    Row(
        "the same, labels corrected by eye ¶",
        RELABELLED,
        ("left_out_reader_colour_contrast", "corrected"),
        (RELABELLED, "baseline", "corrected"),
    ),
)


@cache
def _measurements(source: str) -> dict:
    """A measurement file, read once however many rows quote it."""
    return json.loads((EXPERIMENTS / source).read_text())


def _entry(source: str, path: tuple[str, ...]) -> dict:
    entry = _measurements(source)
    for key in path:
        if key not in entry:
            raise KeyError(f"{source} has no {'/'.join(path)} (missing {key!r})")
        entry = entry[key]
    return entry


def _pair(figures: dict) -> str:
    return f"{figures['top1']:.3f} / {figures['top3']:.3f}"


def table() -> str:
    """The README's table: one line per row of ROWS."""
    lines = [HEADER]
    for row in ROWS:
        methods = _entry(row.source, row.path)
        baseline = _entry(row.baseline[0], row.baseline[1:])
        queries = methods["hybrid"]["queries"]
        if baseline["queries"] != queries:
            raise ValueError(
                f"{row.label}: {queries} queries, but the baseline's figures are over {baseline['queries']}"
            )
        lines.append(
            f"| {row.label} | {queries} | **{_pair(methods['hybrid'])}** | {_pair(methods['embedding'])} * "
            f"| {_pair(methods['ocr'])} | {_pair(baseline)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's table is not this one")
    args = parser.parse_args()
    rebuilt = table()
    if not args.check:
        print(rebuilt)
        return
    if rebuilt not in README.read_text():
        print("README.md's results table differs from the measurement files; the table they give:", file=sys.stderr)
        print(rebuilt, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
