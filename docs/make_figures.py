"""Regenerate the README's figures from the bundled sample in datasets/sample:
docs/render_vs_binarized.png (the render of a label beside the binarized real crop) and
docs/small_plate_zoom.png (a small plate in a large frame: EasyOCR's defaults against our localizer)
and docs/degradations.png (the camera degradations training applies, each family alone, with the
binarized model input under each) and docs/views.png (small crops' three views, each view's
cosine to the query's render and their mean's), and docs/hard_conditions.png (US plates on cars
as taken, at night, at night read lit, motion-blurred: the stress variants of
datasets/make_stress.py, which it needs in build/stress; skipped without them).

Run: .venv/bin/python docs/make_figures.py  (uses the bundled sample in datasets/sample)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from platesearch.binarize import binarize
from platesearch.datasets import load_dataset
from platesearch.media import read_image
from platesearch.render import render_plate

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "datasets" / "sample"
GAP = 8


def main(count: int = 5) -> None:
    crops = load_dataset(SAMPLE / "crops").items[:3]
    photos = load_dataset(SAMPLE / "photos").items[: count - len(crops)]
    rows = []
    for item in crops + photos:
        image = read_image(item.path)
        if item.box:
            x, y, w, h = item.box
            image = image[y : y + h, x : x + w]
        original = cv2.cvtColor(cv2.resize(image, (256, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        row = np.hstack(
            [
                original,
                np.full((64, GAP), 160, np.uint8),
                render_plate(item.plate),
                np.full((64, GAP), 160, np.uint8),
                binarize(image),
            ]
        )
        rows += [row, np.full((GAP, row.shape[1]), 160, np.uint8)]
    out = HERE / "render_vs_binarized.png"
    cv2.imwrite(str(out), np.vstack(rows[:-1]))
    print(out)


def small_plate_figure(plate: str = "RK865AC", frame_size: tuple[int, int] = (1920, 1080), width: int = 90) -> None:
    """The sample photo scaled so its plate is `width` px wide, pasted into a larger frame
    (datasets/make_stress.py); EasyOCR's default detection at 640 px beside platesearch's."""
    import importlib.util

    from platesearch.localize import DEFAULT_MAX_SIDE, _detect, localize

    spec = importlib.util.spec_from_file_location("make_stress", HERE.parent / "datasets" / "make_stress.py")
    make_stress = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_stress)
    item = next(i for i in load_dataset(SAMPLE / "photos").items if i.plate == plate)
    frame, (x, y, w, h) = make_stress.paste_into_frame(
        read_image(item.path), item.box, frame_size, width, np.random.default_rng(1)
    )
    default_boxes = [(q.min(axis=0), q.max(axis=0)) for q in _detect(frame, DEFAULT_MAX_SIDE)]
    ours = localize(frame)
    pad = 140

    def panel(title: str, boxes: list, label: str, color: tuple[int, int, int]) -> np.ndarray:
        image = frame.copy()
        for (x0, y0), (x1, y1) in boxes:
            cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), color, 2)
        if label and boxes:
            (x0, y0), _ = boxes[0]
            cv2.putText(image, label, (int(x0), int(y0) - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2)
        view = image[max(0, y - pad) : y + h + pad, max(0, x - 2 * pad) : x + w + 2 * pad]
        view = cv2.resize(view, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        bar = np.full((40, view.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, title, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
        return np.vstack([bar, view])

    on_plate = [b for b in default_boxes if b[0][0] < x + w and b[1][0] > x and b[0][1] < y + h and b[1][1] > y]
    left = panel(f"EasyOCR's defaults at 640 px: {len(on_plate)} boxes on the plate", on_plate, "", (0, 0, 255))
    ours_boxes = [((c.box[0], c.box[1]), (c.box[0] + c.box[2], c.box[1] + c.box[3])) for c in ours[:1]]
    right = panel(
        "platesearch: low thresholds, then zoom", ours_boxes, ours[0].detected_text if ours else "", (0, 160, 0)
    )
    overview = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
    top = np.full((400, left.shape[1] + right.shape[1], 3), 255, np.uint8)
    top[20:380, 20:660] = overview
    caption = f"a {width}-px plate in a {frame_size[0]}x{frame_size[1]} frame, as the detector's 640-px canvas sees it"
    cv2.putText(top, caption, (680, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    out = HERE / "small_plate_zoom.png"
    figure = np.vstack([top, np.hstack([left, right])])
    cv2.imwrite(str(out), cv2.resize(figure, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA))
    print(out)


def degradations_figure(count: int = 3) -> None:
    """Each degradation family of `platesearch.degrade` on sample crops, binarized below."""
    from platesearch.degrade import DEGRADATIONS

    size = (256, 96)
    columns = ["as photographed", *DEGRADATIONS]
    header = np.full((30, len(columns) * (size[0] + GAP) - GAP, 3), 255, np.uint8)
    for i, name in enumerate(columns):
        cv2.putText(header, name, (i * (size[0] + GAP) + 6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    rows = [header]
    for n, item in enumerate(load_dataset(SAMPLE / "crops").items[:count]):
        crop = read_image(item.path)
        versions = [crop] + [apply(crop, np.random.default_rng(n)) for apply in DEGRADATIONS.values()]
        gap = np.full((size[1], GAP, 3), 255, np.uint8)
        photos = [cv2.resize(v, size, interpolation=cv2.INTER_AREA) for v in versions]
        inputs = [cv2.cvtColor(cv2.resize(binarize(v), (size[0], 32)), cv2.COLOR_GRAY2BGR) for v in versions]
        rows.append(np.hstack([x for p in photos for x in (p, gap)][:-1]))
        rows.append(np.hstack([x for i in inputs for x in (i, gap[:32])][:-1]))
        rows.append(np.full((GAP, rows[-1].shape[1], 3), 255, np.uint8))
    out = HERE / "degradations.png"
    cv2.imwrite(str(out), cv2.resize(np.vstack(rows), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA))
    print(out)


def views_figure(count: int = 4, width: int = 60) -> None:
    """The first sample crops scaled to `width` px wide (as the us-crops-60 stress set), their
    three views (views.crop_views) and each view's cosine to the render of the label, then the
    cosine of the views' mean: the vector an index stores."""
    from platesearch.model import default_embedder
    from platesearch.views import crop_views, mean_of_views

    embedder = default_embedder()
    size = (256, 32)
    rows = []
    for item in load_dataset(SAMPLE / "crops").items[:count]:
        crop = read_image(item.path)
        small = cv2.resize(
            crop, (width, max(1, round(crop.shape[0] * width / crop.shape[1]))), interpolation=cv2.INTER_AREA
        )
        views = crop_views(small)
        vectors = embedder.embed(np.stack(views))
        query = embedder.embed(render_plate(item.plate)[None])[0]
        cosines = [*(vectors @ query), float(mean_of_views(vectors)[0] @ query)]
        cells = [
            cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (size[1] * 2, size[1]), interpolation=cv2.INTER_NEAREST)
        ]
        cells += [cv2.resize(v, size, interpolation=cv2.INTER_AREA) for v in views]
        cells.append(cv2.resize(render_plate(item.plate), size, interpolation=cv2.INTER_AREA))
        gap = np.full((size[1], GAP), 160, np.uint8)
        row = np.hstack([x for c in cells for x in (c, gap)][:-1])
        label = np.full((18, row.shape[1]), 255, np.uint8)
        x = size[1] * 2 + GAP
        for n, name in enumerate(["as given", "trimmed", "padded"]):
            text = f"{name}: cos {cosines[n]:.2f}"
            cv2.putText(label, text, (x + n * (size[0] + GAP) + 4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1)
        mean = f"render {item.plate}; mean of views: cos {cosines[3]:.2f}"
        cv2.putText(label, mean, (x + 3 * (size[0] + GAP) + 4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1)
        rows += [label, row, np.full((GAP, row.shape[1]), 255, np.uint8)]
    out = HERE / "views.png"
    cv2.imwrite(str(out), np.vstack(rows[:-1]))
    print(out)


def hard_conditions_figure(plates: tuple[str, ...] = ("5SIR459", "KVU441", "126PTU", "848048")) -> None:
    """The same plates in us-on-cars-1280-b as taken, at night, at night as read_crop reads them
    (localize.lit), motion-blurred, and motion-blurred as localize sees them (restore.py)."""
    from platesearch.localize import lit, rectify
    from platesearch.restore import detection_views

    stress = HERE.parent / "build" / "stress"
    if not (stress / "us-on-cars-1280-blur").is_dir():
        print(f"{stress} has no hard-condition variants (run datasets/make_stress.py): hard_conditions.png skipped")
        return
    items = {item.plate: item for item in load_dataset(stress / "us-on-cars-1280-b").items}
    columns = (
        ("as taken", "b"),
        ("at night", "night"),
        ("at night, read lit", "night"),
        ("motion-blurred", "blur"),
        ("blurred, deconvolved", "blur"),
    )
    height, width = 70, 150
    grid = []
    for plate in plates:
        x, y, w, h = items[plate].box
        quad = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
        cells = []
        for name, variant in columns:
            photo = read_image(stress / f"us-on-cars-1280-{variant}" / "images" / items[plate].path.name)
            crop = rectify(detection_views(photo)[0] if name.endswith("deconvolved") else photo, quad)
            crop = lit(crop) if name.endswith("lit") else crop
            cell = np.full((height + GAP, width + GAP, 3), 255, np.uint8)
            cell[GAP // 2 : GAP // 2 + height, GAP // 2 : GAP // 2 + width] = cv2.resize(
                crop, (width, height), interpolation=cv2.INTER_CUBIC
            )
            cells.append(cell)
        grid.append(np.hstack(cells))
    header = np.full((24, grid[0].shape[1], 3), 255, np.uint8)
    for i, (name, _) in enumerate(columns):
        cv2.putText(
            header, name, (i * (width + GAP) + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    cv2.imwrite(str(HERE / "hard_conditions.png"), np.vstack([header, *grid]), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main()
    small_plate_figure()
    degradations_figure()
    views_figure()
    hard_conditions_figure()
