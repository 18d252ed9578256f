"""CPU milliseconds per photo for the smeared-photo check every photo pays (restore.motion_blur_length)
and the two deconvolutions a smeared photo pays (restore.detection_views), at three photo sizes;
then what reading a photo's candidates with the recognizer fine-tuned on smeared text costs
(smeared_text.py, every photo pays it; torch on --threads threads, wall time of one batched call).

Measured as process CPU time with one thread (numpy's FFT is single-threaded), the median of
--repeats runs on each photo. Photos: openalpr-eu photos resized to each size, as they are
(the check alone) and smeared by a 9 px horizontal box (the check and the deconvolutions).

Run: .venv/bin/python benchmarks/restore_cost.py [--photos 10] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
from indexing import SHARED  # the benchmarks folder is on the path of its scripts

from platesearch.datasets import load_dataset
from platesearch.media import read_image
from platesearch.restore import detection_views, motion_blur_length
from platesearch.runtime import share_cores
from platesearch.smeared_text import smeared_text_reader

SIZES = ((1280, 720), (1920, 1080), (4032, 3024))


def cpu_ms(call, image: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call(image)
        times.append(1000 * (time.process_time() - started))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the smeared-text reading")
    args = parser.parse_args()
    if not (SHARED / "openalpr-eu").is_dir():
        raise SystemExit(f"{SHARED / 'openalpr-eu'} is missing: the benchmark resizes its photos")
    photos = [read_image(item.path) for item in load_dataset(SHARED / "openalpr-eu").items[: args.photos]]
    print("| photo size | check, sharp photo (ms) | taken as smeared | check + two deconvolutions, 9 px smear (ms) |")
    print("|---|---|---|---|")
    for size in SIZES:
        sharp = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in photos]
        smeared = [cv2.filter2D(p, -1, np.full((1, 9), 1 / 9, np.float32)) for p in sharp]
        check = statistics.median(cpu_ms(motion_blur_length, p, args.repeats) for p in sharp)
        taken = sum(motion_blur_length(p) is not None for p in smeared)
        restored = statistics.median(cpu_ms(detection_views, p, args.repeats) for p in smeared)
        print(f"| {size[0]}x{size[1]} | {check:.0f} | {taken} of {len(smeared)} | {restored:.0f} |")
    share_cores(args.threads)  # the reader's torch pool gets this many threads
    reader = smeared_text_reader()
    crop = cv2.resize(photos[0], (160, 48), interpolation=cv2.INTER_AREA)  # a candidate's size in a 1280x720 photo
    print("\n| candidates (3 cuts each) read by the smeared-text recognizer | wall ms, one batched call |")
    print("|---|---|")
    for candidates in (1, 3, 8):
        count = 3 * candidates
        reader.read([crop] * count)  # warm
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            reader.read([crop] * count)
            times.append(1000 * (time.perf_counter() - started))
        print(f"| {candidates} | {statistics.median(times):.0f} |")


if __name__ == "__main__":
    main()
