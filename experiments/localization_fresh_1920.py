"""Localization on 40-60 px plates in 1920x1080 frames that no rule was designed on (issue #12).

The next 30 BR and 30 EU photos after the 40 of `br-in-1920` / `eu-in-1920`, each scaled so its
plate is 40-60 px wide and pasted into a 1920x1080 frame as `datasets/make_stress.py` does (seed
4242), written to build/fresh-1920; then `localize` on each with the installed package: recall at
IoU >= 0.3, candidates and CPU seconds a photo. Made after the weak-text rule (RESULTS.md §0,
"Weak text looked at closer") to measure it on plates it was not designed on.

`--first 70` makes a second set from the next 30 photos of each (build/fresh-1920-70), made
after the full-size rule for photos over 1280 px (`localize.FULL_SIZE_ABOVE`), which was chosen
looking at the first set. `--frame 1280x720` pastes into 1280x720 frames instead
(build/fresh-1280x720-FIRST), which that rule leaves at three quarters of their size.

Run: PLATESEARCH_THREADS=1 .venv/bin/python experiments/localization_fresh_1920.py [--first 40]
     [--frame 1920x1080] [--out F]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import time
from pathlib import Path

import cv2
import numpy as np

from platesearch import localize
from platesearch.metrics import box_iou

ROOT = Path(__file__).resolve().parents[1]
FIRST_PHOTO, PHOTOS_EACH = 40, 30
FRAME = (1920, 1080)
PLATE_WIDTH = (40, 60)
SEED = 4242


def _make_stress():
    spec = importlib.util.spec_from_file_location("make_stress", ROOT / "datasets" / "make_stress.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_frames(first: int, frame_size: tuple[int, int]) -> list[tuple[Path, str, tuple[int, int, int, int]]]:
    """The frames of photos first..first+PHOTOS_EACH of each set (written once), with their
    plates and boxes."""
    stress, rng = _make_stress(), np.random.default_rng(SEED)
    if frame_size != FRAME:
        out = ROOT / "build" / f"fresh-{frame_size[0]}x{frame_size[1]}-{first}"
    else:
        out = ROOT / "build" / ("fresh-1920" if first == FIRST_PHOTO else f"fresh-1920-{first}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    frames = []
    for name in ("openalpr-br", "openalpr-eu"):
        for row in stress._rows(stress.SHARED / name)[first : first + PHOTOS_EACH]:
            photo = cv2.imread(str(stress.SHARED / name / row["image"]))
            box = tuple(int(float(row[k])) for k in ("x", "y", "w", "h"))
            width = int(rng.integers(PLATE_WIDTH[0], PLATE_WIDTH[1] + 1))
            frame, new_box = stress.paste_into_frame(photo, box, frame_size, width, rng)
            path = out / "images" / f"{name}-{Path(row['image']).stem}.jpg"
            if not path.exists():
                cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            frames.append((path, row["plate"], new_box))
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plate", "x", "y", "w", "h"])
        writer.writerows([f"images/{p.name}", plate, *box] for p, plate, box in frames)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first", type=int, default=FIRST_PHOTO, help="the first photo of each set")
    parser.add_argument("--frame", default="1920x1080", help="frame size, WxH")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.frame.split("x"))
    frames = make_frames(args.first, (width, height))
    found, candidates, missed = 0, [], []
    started = time.process_time()
    for path, plate, box in frames:
        kept = localize.localize(cv2.imread(str(path)))
        hit = any(box_iou(c.box, box) >= 0.3 for c in kept)
        found += hit
        candidates.append(len(kept))
        missed += [] if hit else [plate]
    result = {
        "photos": len(frames),
        "found": found,
        "recall": found / len(frames),
        "mean_candidates": float(np.mean(candidates)),
        "cpu_s_per_photo": (time.process_time() - started) / len(frames),
        "missed": missed,
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
