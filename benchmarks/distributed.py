"""Indexing throughput of the local Ray engine (`index --engine ray`, one actor per core) against
`--workers 2`, on the same 1280x720 photos: what Ray costs on one 2-core machine.

Photos: `benchmarks/indexing.py`'s (EU and BR photos resized to 1280x720, JPEG). Each engine
indexes them into a fresh index, --rounds times; files/s is from the call to its return, so
it includes starting the worker processes (local) or the actors (Ray) and loading EasyOCR and
the model in each. Ray's runtime itself is started once, before the first Ray round, and
timed apart (a cluster is started once, not per run).

Run: .venv/bin/python benchmarks/distributed.py [--photos 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from indexing import photos_1280x720

from platesearch.distributed import _start_ray
from platesearch.pipeline import PlateIndex

ACTORS = 2


def timed_runs(files: list[Path], work: Path, rounds: int, engine: str) -> list[float]:
    rates = []
    for round_number in range(rounds):
        directory = work / f"{engine}-{round_number}"
        with PlateIndex.create(directory) as plate_index:
            started = time.perf_counter()
            report = plate_index.add(files, workers=ACTORS, engine=engine)
            rates.append(len(files) / (time.perf_counter() - started))
            assert report.indexed == len(files), report.failed
        shutil.rmtree(directory)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="distributed-"))
    (work / "photos").mkdir()
    photos_1280x720(work / "photos", args.photos)
    files = sorted((work / "photos").glob("*.jpg"))
    local = timed_runs(files, work, args.rounds, "local")
    started = time.perf_counter()
    _start_ray(None, ACTORS)
    ray_start = time.perf_counter() - started
    distributed = timed_runs(files, work, args.rounds, "ray")
    shutil.rmtree(work)

    def line(rates: list[float]) -> str:
        return f"{min(rates):.2f} / {statistics.median(rates):.2f} / {max(rates):.2f}"

    print(f"{len(files)} photos at 1280x720, {args.rounds} rounds each, files/s min / median / max")
    print("| engine | files/s |\n|---|---|")
    print(f"| local, --workers {ACTORS} | {line(local)} |")
    print(f"| ray (local runtime), {ACTORS} actors | {line(distributed)} |")
    print(f"\nRay runtime start (once): {ray_start:.1f} s")


if __name__ == "__main__":
    main()
