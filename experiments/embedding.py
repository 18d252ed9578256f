"""Issue #13's table: the embedding alone, per dataset, for one or more trained models.

Each labelled plate becomes one crop (crop datasets: the image; photo datasets: the labelled
box with a 10 % margin, as a localizer cuts it), binarized like an indexed crop. A query is a
plate text, rendered and embedded; the gallery is every crop of that dataset (plates a model
trained on stay in as distractors); hit@k when a crop of the query's plate is among the first k.
Two query sets:
- `held_out`: the plate texts the usual split keeps out of training (`is_validation_plate`);
- `all`: every plate text of the dataset, the figure for a model trained without that dataset
  (leave one dataset out).
With --views a crop's gallery vector is the mean over its views, as an index makes it
(views.py): a crop dataset's image trimmed and padded (views.crop_views); a photo dataset's box
also cut at localize.FRAMING_MARGINS, as a candidate is cut again from its photo.
Binarized crops are cached in build/embedding-<binarizer version>/NAME.npz (NAME-views.npz).

Run: .venv/bin/python experiments/embedding.py --model shipped=platesearch/weights \
         --model lodo-us=runs/lodo-us [--views] [--out build/embedding.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from pathlib import Path

import numpy as np

from platesearch.binarize import binarize
from platesearch.datasets import is_validation_plate, load_dataset
from platesearch.localize import FRAMING_MARGINS
from platesearch.media import ImageReadError, read_image
from platesearch.metrics import embedding_retrieval
from platesearch.model import PREPROCESSING_VERSION, PlateEmbedder
from platesearch.render import render_plate
from platesearch.views import VIEWS, crop_views, mean_of_views

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "build" / f"embedding-{PREPROCESSING_VERSION}"  # crops binarized by another version differ
DATASETS = {
    "openalpr-us-crops": SHARED / "openalpr-us-crops",
    "us-crops-60": ROOT / "build" / "stress" / "us-crops-60",
    "us-crops-small": ROOT / "build" / "stress" / "us-crops-small",
    "openalpr-br-crops": SHARED / "openalpr-br-crops",
    "easypr-cn": SHARED / "easypr-cn",
    "openalpr-eu": SHARED / "openalpr-eu",
    "openalpr-br": SHARED / "openalpr-br",
}
MARGIN = 0.1


def _cut(image: np.ndarray, box: tuple[int, int, int, int], margin: tuple[float, float]) -> np.ndarray:
    x, y, w, h = box
    dx, dy = int(w * margin[0]), int(h * margin[1])
    return image[max(0, y - dy) : y + h + dy, max(0, x - dx) : x + w + dx]


def _binarized_crop(args: tuple[str, tuple[int, int, int, int] | None, bool]) -> np.ndarray | None:
    """The labelled plate binarized: [64, 512], or with views [VIEWS, 64, 512]."""
    path, box, views = args
    try:
        image = read_image(path)
    except ImageReadError as error:
        print(f"skipped: {error}")
        return None
    if box is None:
        return np.stack(crop_views(image)) if views else binarize(image)
    margins = [(MARGIN, MARGIN), *FRAMING_MARGINS] if views else [(MARGIN, MARGIN)]
    images = np.stack([binarize(_cut(image, box, margin)) for margin in margins])
    return images if views else images[0]


def binarized_crops(name: str, root: Path, views: bool = False) -> tuple[np.ndarray, list[str]]:
    """Every labelled plate of a dataset as a binarized crop (or its views), cached."""
    cache = CACHE / f"{name}{'-views' if views else ''}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["images"], data["plates"].tolist()
    items = load_dataset(root).items
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        images = pool.map(_binarized_crop, [(str(i.path), i.box, views) for i in items], chunksize=8)
    plates = [i.plate for i, image in zip(items, images, strict=True) if image is not None]
    images = [image for image in images if image is not None]
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=np.stack(images), plates=np.array(plates))
    return np.stack(images), plates


def evaluate_model(embedder: PlateEmbedder, sets: dict[str, tuple[np.ndarray, list[str]]]) -> dict:
    rows = {}
    for name, (images, plates) in sets.items():
        if images.ndim == 4:  # views
            gallery = mean_of_views(embedder.embed(images.reshape(-1, *images.shape[2:])))
        else:
            gallery = embedder.embed(images)
        row = {}
        for protocol, queries in (
            ("held_out", [p for p in dict.fromkeys(plates) if is_validation_plate(p)]),
            ("all", list(dict.fromkeys(plates))),
        ):
            vectors = embedder.embed(np.stack([render_plate(p) for p in queries]))
            row[protocol] = embedding_retrieval(vectors, queries, gallery, plates)
        rows[name] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=MODEL_DIR (repeatable)")
    parser.add_argument("--sets", nargs="*", default=list(DATASETS))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "embedding.json")
    parser.add_argument("--views", action="store_true", help=f"a crop's vector is the mean of its {VIEWS} views")
    args = parser.parse_args()
    sets = {}
    for name in args.sets:
        if not (DATASETS[name] / "labels.csv").exists():
            print(f"skipping {name}: {DATASETS[name]} missing (datasets/make_stress.py makes the stress sets)")
            continue
        sets[name] = binarized_crops(name, DATASETS[name], args.views)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for spec in args.model:
        model_name, _, directory = spec.partition("=")
        results[model_name] = evaluate_model(PlateEmbedder(directory), sets)
        args.out.write_text(json.dumps(results, indent=2))
    print("| model | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for model_name, rows in results.items():
        cells = [
            f"{rows[n]['held_out']['top1']:.3f} / {rows[n]['held_out']['top3']:.3f} (all {rows[n]['all']['top1']:.3f})"
            if n in rows
            else "–"
            for n in sets
        ]
        print(f"| {model_name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
