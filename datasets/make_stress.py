"""Build the hard stress variants of the visible datasets (issue #12): small plates in large frames.

- `eu-in-1920`, `br-in-1920`, `eu-in-4032`, `br-in-4032` (the first 40 and 15 photos): each EU/BR photo is scaled so its
  plate is 40-120 px wide (uniform, seeded) and pasted at a random place into a 1920x1080 or
  4032x3024 frame. The rest of the frame is the same photo blurred beyond reading and
  stretched, so the detector sees texture but no second readable plate.
- `eu-in-1280`, `br-in-1280` (the first 40 photos): the same in a 1280x720 frame, the size of
  most held-back US car photos whose plates were 50-200 px wide; a 1280-px photo is detected
  on the default 640 canvas, at half size, where the 1920 frames are seen at 0.75. Made with
  their own seed after the others, so adding them left the other variants unchanged.
- `us-crops-small`: every US crop downscaled to 40-100 px wide (kept at that size), and
  `us-crops-60`: every US crop at 60 px wide (the model issue's target variant).
- `us-on-cars-1280` (120 photos): US plates on cars in 1280x720 photos, like the held-back US
  car photos (plates 50-200 px wide, median 88). Every sixth US crop (so every state) is pasted
  over the labelled plate of an EU or BR photo (in turn), whose own plate is blurred away first;
  the photo is scaled to cover 1280x720 and cut there around the plate. Plate widths are drawn
  log-uniform in 50-160 px (median about 89). Own seed, made last. `us-on-cars-1280-b`: the
  same with other US crops (every sixth from the fourth) on the hosts taken the other way
  round; made after localization's rules for such plates were designed on the first, to
  measure them on plates they were not designed on.
- `us-on-cars-1280-night`, `us-on-cars-1280-blur`: the frames of `us-on-cars-1280-b` as a poor
  camera takes them (the held-back US photos were often dark or blurred). Night: the whole
  frame darkened to 20-45 % of its light with a gamma of 1.2-1.6, sensor noise (sigma 4-9) and
  JPEG quality 45-70. Blur: motion blur 5-11 px long within 20 degrees of horizontal (a passing
  car, a panning camera), a slight defocus and JPEG quality 55-80. Own seed, made after
  every rule of the pipeline, to measure it under conditions nothing was designed on.
  `us-on-cars-1280-night-2`: the frames of `us-on-cars-1280` at night (own seed), made after
  the rule for dark crops (`localize.DARK_BELOW`) was made looking at the first night set.
  `us-on-cars-1280-blur-2`: the same frames motion-blurred (the same seed, drawn after the
  night frames, which stay as they were), made after the rule for smeared photos
  (`restore.BLUR_ABOVE`) was made looking at the first blurred set.
  `us-on-cars-1280-defocus` and `-defocus-2`: the same two sets of frames out of focus (a disk
  blur of radius 1.5-3 px, JPEG quality 55-80), drawn after their night and blurred frames
  (which stay as they were); made in the twenty-seventh session to measure blur that is not
  motion (the smeared-photo rule does not take it).
- `us-on-cars-1280-c` (96 photos) and its `-night-3`, `-blur-3`, `-defocus-3`: made in the
  twenty-ninth session, after every rule above, to measure them where nothing was looked at.
  Its plates are every US crop whose text the package's models never trained on (held out by
  `datasets.is_validation_plate`; the embedding picked its epoch on them) that neither earlier
  set shows, on the hosts after the first 120 (which both earlier sets use).
- `us-on-cars-1280-mild-blur`, `-mild-blur-2`, `-mild-blur-3`: the frames of the three sets
  above (b's, the first's, c's) smeared only 3-5 px, a smear a person still reads through
  (otherwise the blurred sets' recipe), drawn after every earlier condition of each (which
  stay as they were); made in the thirtieth session, after every rule.

Each variant is an ordinary dataset folder (`labels.csv` + `images/`) with the new boxes, so
`platesearch evaluate` and the benchmarks read it like any other. Deterministic (seed 0).

Run: .venv/bin/python datasets/make_stress.py [--out build/stress] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from platesearch.datasets import is_validation_plate
from platesearch.restore import disk

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FRAMES = {"1920": (1920, 1080), "4032": (4032, 3024), "1280": (1280, 720)}
# Only the first photos of each set are framed: the whole-image baseline reads a 1920x1080
# frame in about 18 s and a 4032x3024 one in about 45 s on one core.
FRAME_LIMIT = {"1920": 40, "4032": 15, "1280": 40}
LATER_FRAMES = {"1280": 1280}  # frame -> its own seed: variants added later leave the others' draws unchanged
PASTED_PLATE_WIDTH = (40, 120)
SMALL_CROP_WIDTH = (40, 100)
US_ON_CARS_FRAME, US_ON_CARS_PHOTOS, US_ON_CARS_STEP, US_ON_CARS_WIDTHS = (1280, 720), 120, 6, (50, 160)
# name -> (first US crop, every US_ON_CARS_STEP-th from it; None: every plate no model of the
# package trained on that no set before shows), host datasets in turn, first host, seed
US_ON_CARS = {
    "us-on-cars-1280": (0, ("openalpr-eu", "openalpr-br"), 0, 1281),
    "us-on-cars-1280-b": (3, ("openalpr-br", "openalpr-eu"), 0, 1282),
    "us-on-cars-1280-c": (None, ("openalpr-eu", "openalpr-br"), US_ON_CARS_PHOTOS, 1285),
}
# variant -> (the frames it degrades, its conditions, seed)
HARD_CONDITIONS_SETS = {
    "us-on-cars-1280-{}": ("us-on-cars-1280-b", ("night", "blur", "defocus", "mild-blur"), 1283),
    "us-on-cars-1280-{}-2": ("us-on-cars-1280", ("night", "blur", "defocus", "mild-blur"), 1284),
    "us-on-cars-1280-{}-3": ("us-on-cars-1280-c", ("night", "blur", "defocus", "mild-blur"), 1286),
}  # a condition added at the end of a variant's tuple is drawn last: the earlier ones stay as they were


def _rows(dataset: Path) -> list[dict[str, str]]:
    with (dataset / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def paste_into_frame(
    photo: np.ndarray, box: tuple[int, int, int, int], frame_size: tuple[int, int], plate_width: int, rng
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The photo scaled so its plate is `plate_width` px wide, pasted into a blurred frame; the new box."""
    frame_w, frame_h = frame_size
    scale = plate_width / box[2]
    h, w = photo.shape[:2]
    scale = min(scale, frame_w / w, frame_h / h)  # the photo must fit the frame
    small = cv2.resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    tiny = cv2.resize(photo, (32, 24), interpolation=cv2.INTER_AREA)  # unreadable: no second plate
    frame = cv2.GaussianBlur(cv2.resize(tiny, (frame_w, frame_h), interpolation=cv2.INTER_CUBIC), (0, 0), 8)
    sh, sw = small.shape[:2]
    x0 = int(rng.integers(0, frame_w - sw + 1))
    y0 = int(rng.integers(0, frame_h - sh + 1))
    frame[y0 : y0 + sh, x0 : x0 + sw] = small
    new_box = (x0 + round(box[0] * scale), y0 + round(box[1] * scale), round(box[2] * scale), round(box[3] * scale))
    return frame, new_box


def make_frames(name: str, dataset: Path, frame: str, out: Path, limit: int | None, rng) -> None:
    target = out / f"{name}-in-{frame}"
    (target / "images").mkdir(parents=True, exist_ok=True)
    rows = _rows(dataset)[:limit] if limit else _rows(dataset)
    with (target / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plate", "x", "y", "w", "h", "source"])
        for row in rows:
            photo = cv2.imread(str(dataset / row["image"]))
            box = tuple(int(float(row[k])) for k in ("x", "y", "w", "h"))
            width = int(rng.integers(PASTED_PLATE_WIDTH[0], PASTED_PLATE_WIDTH[1] + 1))
            image, new_box = paste_into_frame(photo, box, FRAMES[frame], width, rng)
            file = f"images/{Path(row['image']).stem}.jpg"
            cv2.imwrite(str(target / file), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            writer.writerow([file, row["plate"], *new_box, row["image"]])
    print(f"{target}: {len(rows)} photos")


def make_small_crops(dataset: Path, out: Path, width_range: tuple[int, int], suffix: str, rng) -> None:
    target = out / f"us-crops-{suffix}"
    (target / "images").mkdir(parents=True, exist_ok=True)
    rows = _rows(dataset)
    with (target / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plate"])
        for row in rows:
            crop = cv2.imread(str(dataset / row["image"]))
            width = int(rng.integers(width_range[0], width_range[1] + 1))
            height = max(8, round(crop.shape[0] * width / crop.shape[1]))
            small = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
            file = f"images/{Path(row['image']).stem}.png"
            cv2.imwrite(str(target / file), small)
            writer.writerow([file, row["plate"]])
    print(f"{target}: {len(rows)} crops")


def plate_on_car(
    host: np.ndarray, box: tuple[int, int, int, int], plate: np.ndarray, frame_size: tuple[int, int], plate_width: int
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """`host` scaled to cover the frame and cut around its plate, the plate blurred away and
    `plate` pasted `plate_width` px wide over its centre; the pasted plate's box."""
    frame_w, frame_h = frame_size
    x, y, w, h = box
    host = host.copy()
    pad_x, pad_y = round(0.15 * w), round(0.3 * h)
    y0, y1, x0, x1 = max(0, y - pad_y), y + h + pad_y, max(0, x - pad_x), x + w + pad_x
    host[y0:y1, x0:x1] = cv2.GaussianBlur(host[y0:y1, x0:x1], (0, 0), max(3.0, h / 3))
    scale = max(frame_w / host.shape[1], frame_h / host.shape[0])
    host = cv2.resize(host, (round(host.shape[1] * scale), round(host.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
    left = int(min(max(0, cx - frame_w / 2), host.shape[1] - frame_w))
    top = int(min(max(0, cy - frame_h / 2), host.shape[0] - frame_h))
    frame = host[top : top + frame_h, left : left + frame_w].copy()
    plate_height = max(8, round(plate.shape[0] * plate_width / plate.shape[1]))
    small = cv2.resize(plate, (plate_width, plate_height), interpolation=cv2.INTER_AREA)
    px = int(min(max(0, cx - left - plate_width / 2), frame_w - plate_width))
    py = int(min(max(0, cy - top - plate_height / 2), frame_h - plate_height))
    frame[py : py + plate_height, px : px + plate_width] = small
    return frame, (px, py, plate_width, plate_height)


def make_us_on_cars(name: str, out: Path, limit: int | None) -> None:
    first, host_sets, first_host, seed = US_ON_CARS[name]
    rng = np.random.default_rng(seed)
    target = out / name
    (target / "images").mkdir(parents=True, exist_ok=True)
    us = SHARED / "openalpr-us-crops"
    if first is None:
        earlier = list(US_ON_CARS)[: list(US_ON_CARS).index(name)]
        shown = {row["plate"] for other in earlier for row in _rows(out / other)}
        plates = [row for row in _rows(us) if is_validation_plate(row["plate"]) and row["plate"] not in shown]
    else:
        plates = _rows(us)[first::US_ON_CARS_STEP]
    plates = plates[: min(US_ON_CARS_PHOTOS, limit or US_ON_CARS_PHOTOS)]
    one, other = (SHARED / d for d in host_sets)
    hosts = [h for pair in zip(_rows(one), _rows(other), strict=False) for h in ((one, pair[0]), (other, pair[1]))]
    hosts = hosts[first_host:]
    low, high = US_ON_CARS_WIDTHS
    with (target / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plate", "x", "y", "w", "h", "source"])
        for plate_row, (host_set, host_row) in zip(plates, hosts, strict=False):
            host = cv2.imread(str(host_set / host_row["image"]))
            box = tuple(int(float(host_row[k])) for k in ("x", "y", "w", "h"))
            width = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))))
            image, new_box = plate_on_car(host, box, cv2.imread(str(us / plate_row["image"])), US_ON_CARS_FRAME, width)
            file = f"images/{Path(plate_row['image']).stem}.jpg"
            cv2.imwrite(str(target / file), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            source = f"{plate_row['image']} on {host_set.name}/{host_row['image']}"
            writer.writerow([file, plate_row["plate"], *new_box, source])
    print(f"{target}: {len(plates)} photos")


def night(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frame as a camera takes it at night: dark, noisy, compressed."""
    light = rng.uniform(0.2, 0.45) * (frame.astype(np.float32) / 255) ** rng.uniform(1.2, 1.6)
    noisy = light * 255 + rng.normal(0, rng.uniform(4, 9), frame.shape)
    return _jpeg(np.clip(noisy, 0, 255).astype(np.uint8), int(rng.integers(45, 71)))


def motion_blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frame of a moving car or a panning camera: smeared 5-11 px along a near-horizontal line."""
    return _smeared(frame, rng, (5, 11))


def mild_motion_blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frame of a slower car or a steadier hand: smeared 3-5 px, where a person still reads
    the plate (of the 5-11 px set's misses a person read few: experiments/RESULTS.md §0, "What
    a person reads in the first blurred set's misses")."""
    return _smeared(frame, rng, (3, 5))


def _smeared(frame: np.ndarray, rng: np.random.Generator, lengths: tuple[int, int]) -> np.ndarray:
    """Smeared along a line of lengths[0]-lengths[1] px within 20 degrees of the horizontal, then
    slightly defocused and JPEG-compressed."""
    length = int(rng.integers(lengths[0], lengths[1] + 1))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    centre = (length / 2 - 0.5, length / 2 - 0.5)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, rng.uniform(-20, 20), 1.0), (length, length))
    smeared = cv2.filter2D(frame, -1, kernel / kernel.sum())
    return _jpeg(cv2.GaussianBlur(smeared, (0, 0), rng.uniform(0.5, 1.0)), int(rng.integers(55, 81)))


def defocus(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frame out of focus (focused behind the car, a wet or dirty lens): a disk blur of
    radius 1.5-3 px, the same in every direction, so nothing of it looks smeared."""
    return _jpeg(cv2.filter2D(frame, -1, disk(rng.uniform(1.5, 3.0))), int(rng.integers(55, 81)))


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


HARD_CONDITIONS = {"night": night, "blur": motion_blur, "defocus": defocus, "mild-blur": mild_motion_blur}


def make_hard_conditions(out: Path, name: str) -> None:
    """Each frame of the variant's source degraded by each of its conditions, same plates and boxes."""
    source_name, conditions, seed = HARD_CONDITIONS_SETS[name]
    source = out / source_name
    rows = _rows(source)
    rng = np.random.default_rng(seed)
    for condition in conditions:
        apply = HARD_CONDITIONS[condition]
        target = out / name.format(condition)
        (target / "images").mkdir(parents=True, exist_ok=True)
        for row in rows:
            frame = apply(cv2.imread(str(source / row["image"])), rng)
            cv2.imwrite(str(target / row["image"]), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        with (target / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"{target}: {len(rows)} photos")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("build/stress"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos of each photo set")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is missing: the stress variants are made from the shared datasets")
    rng = np.random.default_rng(0)
    photo_sets = (("eu", "openalpr-eu"), ("br", "openalpr-br"))
    for name, folder in photo_sets:
        for frame in [f for f in FRAMES if f not in LATER_FRAMES]:
            limit = min(args.limit or FRAME_LIMIT[frame], FRAME_LIMIT[frame])
            make_frames(name, SHARED / folder, frame, args.out, limit, rng)
    make_small_crops(SHARED / "openalpr-us-crops", args.out, SMALL_CROP_WIDTH, "small", rng)
    make_small_crops(SHARED / "openalpr-us-crops", args.out, (60, 60), "60", rng)
    for frame, seed in LATER_FRAMES.items():
        later_rng = np.random.default_rng(seed)
        for name, folder in photo_sets:
            limit = min(args.limit or FRAME_LIMIT[frame], FRAME_LIMIT[frame])
            make_frames(name, SHARED / folder, frame, args.out, limit, later_rng)
    for name in US_ON_CARS:
        make_us_on_cars(name, args.out, args.limit)
    for name in HARD_CONDITIONS_SETS:
        make_hard_conditions(args.out, name)


if __name__ == "__main__":
    main()
