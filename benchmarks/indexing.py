"""Indexing throughput with a stage breakdown, memory and disk per crop.

crops: the 751 real US crops of ../shared/datasets/openalpr-us-crops in --crops mode.
photos: full EU and BR photos of ../shared/datasets resized to 1280x720 and saved as JPEG
(quality 90), indexed end to end; localization recall is checked on the indexed boxes
(a photo counts when one of its crops overlaps the labelled plate with IoU >= 0.3).
Each configuration runs several times into a fresh index; throughput is min / median / max,
and the stage breakdown is the median run's (decode, localize, binarize are summed over
worker processes, so with workers they can add up to more than the wall time).

Run: .venv/bin/python benchmarks/indexing.py [--rounds 3] [--photos 40] [--workers 0 2]
     [--modes crops photos] [--detector-max-side 512]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from platesearch.datasets import load_dataset
from platesearch.metrics import box_iou
from platesearch.model import default_embedder
from platesearch.pipeline import PlateIndex

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PHOTO_SIZE = (1280, 720)


def photos_1280x720(folder: Path, count: int) -> dict[str, tuple[int, int, int, int]]:
    """Half EU, half BR photos resized to 1280x720; their labelled boxes scaled alike."""
    boxes = {}
    for name in ("openalpr-eu", "openalpr-br"):
        for item in load_dataset(SHARED / name).items[: count // 2]:
            image = cv2.imread(str(item.path))
            sx, sy = PHOTO_SIZE[0] / image.shape[1], PHOTO_SIZE[1] / image.shape[0]
            path = folder / f"{name}-{item.path.stem}.jpg"
            cv2.imwrite(
                str(path), cv2.resize(image, PHOTO_SIZE, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 90]
            )
            x, y, w, h = item.box
            boxes[str(path)] = (round(x * sx), round(y * sy), round(w * sx), round(h * sy))
    return boxes


def run(files: list[Path], crops: bool, workers: int, rounds: int, work: Path, detector_max_side: int | None) -> dict:
    embedder = default_embedder()
    runs = []
    for round_number in range(rounds):
        directory = work / f"index-{crops}-{workers}-{round_number}"
        started = time.perf_counter()
        with PlateIndex.create(directory, embedder) as plate_index:
            report = plate_index.add(files, crops=crops, workers=workers, detector_max_side=detector_max_side)
        seconds = time.perf_counter() - started
        assert not report.failed, report.failed
        disk = sum(p.stat().st_size for p in directory.iterdir())
        runs.append({"seconds": seconds, "report": report, "disk": disk, "directory": directory})
    runs.sort(key=lambda r: r["seconds"])
    median = runs[len(runs) // 2]
    return {"runs": runs, "median": median, "rates": [len(files) / r["seconds"] for r in runs]}


def recall(directory: Path, boxes: dict[str, tuple[int, int, int, int]]) -> float:
    with PlateIndex.open(directory, default_embedder()) as plate_index:
        hits = {path for path, box in plate_index.crop_boxes() if box_iou(box, boxes[path]) >= 0.3}
    return len(hits) / len(boxes)


def stage_line(report) -> str:
    return ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in report.seconds.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=40, help="1280x720 photos (half EU, half BR)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--modes", nargs="+", choices=["crops", "photos"], default=["crops", "photos"])
    parser.add_argument("--detector-max-side", type=int, default=None, help="default: the localizer's (640)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="platesearch-bench-"))
    try:
        crop_files = [item.path for item in load_dataset(SHARED / "openalpr-us-crops").items]
        photo_dir = work / "photos"
        photo_dir.mkdir()
        boxes = photos_1280x720(photo_dir, args.photos)
        photo_files = sorted(photo_dir.iterdir())
        default_embedder().embed(np.full((1, 64, 512), 255, np.uint8))  # model load is timed in query.py
        print(
            "| mode | workers | files | files/s min / median / max | stage seconds of the median run | disk per crop | localization recall |"
        )
        print("|---|---|---|---|---|---|---|")
        for crops, files in ((True, crop_files), (False, photo_files)):
            if ("crops" if crops else "photos") not in args.modes:
                continue
            for workers in args.workers:
                result = run(files, crops, workers, args.rounds, work, args.detector_max_side)
                median = result["median"]
                rates = result["rates"]
                found = "" if crops else f"{recall(median['directory'], boxes):.3f}"
                per_crop = median["disk"] / max(1, median["report"].candidates)
                print(
                    f"| {'--crops' if crops else f'photos 1280x720, detector {args.detector_max_side or 640}'} | {workers} | {len(files)} "
                    f"({median['report'].candidates} crops) | {min(rates):.1f} / {statistics.median(rates):.1f} / {max(rates):.1f} "
                    f"| {stage_line(median['report'])} (wall {median['seconds']:.1f}) | {per_crop / 1024:.1f} KiB | {found} |",
                    flush=True,
                )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak resident memory of this process (model, EasyOCR when in-process, buffers): {peak:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
