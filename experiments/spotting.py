"""Spotting, measured and not adopted: would the recognizer's frame-by-frame output, scored
against each query, rank photos better than the readings decoded from it ahead of the query?

At 4-6 pixels a character EasyOCR's best reading of a small plate often garbles it
(`LL627554J` for RK755AJ, 46x10 px in a 1920x1080 frame) and then matches no query, while its
per-frame probabilities still favour the plate. Spotting scores a query by CTC's best alignment
(Viterbi) of its characters to a stretch of those frames, free start and end (a country band or
a frame around the plate costs nothing), as the per-character geometric mean probability, 0..1.

For every crop of an index (`pipeline_at_default.py`'s, same code and machine) this gathers the
recognizer's output on the plate images `index` already reads: the binarized crop and, for a
photo's candidates, the binarized framings (localize.FRAMING_MARGINS). Per query it takes each
crop's cosine and best reading's similarity from the index, its spotting score (the best over
its plate images), and the crops the search would consider (the 64 best by cosine and by reading);
then it scores every fusion of the grid and chooses one leaving each set out in turn.

Fusion: the reading's part of the hybrid becomes (1 - share) * similarity + share * spotting
("mix"), or similarity^(1 - share) * spotting^share ("geo"), the OCR weight chosen with it.

Run: .venv/bin/python experiments/spotting.py --indexes runs/after --crop-indexes runs/crops-after \
         --cache build/spotting --out experiments/spotting_grid.json [--relative] [SET ...]
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
from pathlib import Path

import cv2
import numpy as np
from photos import SETS

from platesearch.binarize import binarize
from platesearch.config import plate_rules
from platesearch.datasets import is_validation_plate, load_dataset
from platesearch.localize import FRAMING_MARGINS, get_reader, localize, rectify
from platesearch.pipeline import PlateIndex
from platesearch.scoring import EXACT, EXACT_MIN_LENGTH
from platesearch.textmatch import best_readings

POOL = 64  # search.candidate_pool for k <= 4
SHIPPED = (0.8, 0.0, "mix")
GRID = [
    (w, s, form)
    for w in (0.7, 0.8, 0.9, 0.95, 0.975, 1.0)
    for s in (0.0, 0.25, 0.5, 0.75, 0.9)
    for form in ("mix", "geo")
]


def recognizer_costs(gray: np.ndarray) -> np.ndarray:
    """-ln p [frames, 1 + len(alphabet)] (blank first) of EasyOCR's recognizer reading the whole
    grey image as one line, resized to its 64-pixel height."""
    import torch
    from PIL import Image

    reader = get_reader()
    h, w = gray.shape
    resized = np.asarray(Image.fromarray(gray, "L").resize((math.ceil(64 * w / h), 64), Image.BICUBIC), np.float32)
    images = torch.from_numpy((resized / 255.0 - 0.5) / 0.5)[None, None]
    with torch.no_grad():
        logits = reader.recognizer(images, torch.zeros((1, 1), dtype=torch.long))
    columns = [0, *(reader.character.index(c) + 1 for c in plate_rules().alphabet)]
    probabilities = torch.softmax(logits, dim=2)[0].numpy()[:, columns]
    return (-np.log(np.maximum(probabilities / probabilities.sum(axis=1, keepdims=True), 1e-30))).astype(np.float16)


def gather(folder: Path, crops: bool, cache: Path) -> dict[str, list]:
    """Per image: its candidates' boxes with the recognizer's output on each of their plate images."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    found: dict[str, list] = {}
    for item in load_dataset(folder).items:
        path = str(item.path.resolve())
        if path in found:
            continue
        image = cv2.imread(path)
        if crops:
            h, w = image.shape[:2]
            found[path] = [((0, 0, w, h), [recognizer_costs(binarize(image))])]
        else:
            found[path] = [
                (
                    c.box,
                    [recognizer_costs(binarize(c.crop))]
                    + [recognizer_costs(binarize(rectify(image, c.quad, m))) for m in FRAMING_MARGINS],
                )
                for c in localize(image)
            ]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(found))
    return found


def spotting_scores(query: str, images: list[np.ndarray]) -> np.ndarray:
    """exp(-least alignment cost / len(query)) of each image's output: every image at once, frame by frame."""
    alphabet = plate_rules().alphabet
    labels = np.array([0, *(v for ch in query for v in (alphabet.index(ch) + 1, 0))])  # blank, c1, blank, c2, ...
    frames = max(len(c) for c in images)
    emissions = np.zeros((len(images), frames, len(labels)), np.float32)  # past an image's end: blank, free
    emissions[:, :, 1::2] = np.inf
    for n, costs in enumerate(images):
        emissions[n, : len(costs)] = costs[:, labels]
    skip = np.zeros(len(labels), bool)
    skip[3::2] = labels[3::2] != labels[1:-2:2]  # the next character without a blank between, unless repeated
    best = np.full(len(images), np.inf, np.float32)
    alignment = np.full((len(images), len(labels)), np.inf, np.float32)
    for t in range(frames):
        previous = alignment
        alignment = previous.copy()
        np.minimum(alignment[:, 1:], previous[:, :-1], out=alignment[:, 1:])
        np.minimum(alignment[:, 2:], np.where(skip[2:], previous[:, :-2], np.inf), out=alignment[:, 2:])
        alignment[:, :2] = np.minimum(alignment[:, :2], 0.0)  # a stretch may start at any frame
        alignment += emissions[:, t]
        np.minimum(best, alignment[:, -2:].min(axis=1), out=best)  # ... and end at any frame
    return np.exp(-best / len(query))


def signals(folder: Path, index_dir: Path, found: dict[str, list], relative: bool) -> dict:
    """Per query: every crop's cosine, best reading similarity and spotting score, and whether
    the search would consider it; with each crop's photo and the photos' plates."""
    dataset = load_dataset(folder)
    plates_of: dict[str, set[str]] = {}
    for item in dataset.items:
        plates_of.setdefault(str(item.path.resolve()), set()).add(item.plate)
    with PlateIndex.open(index_dir) as plate_index:
        stored = plate_index.crops_of(list(found))
        ids = sorted(stored)
        owners = [stored[i].photo_path for i in ids]
        images, image_owner = [], []
        for n, i in enumerate(ids):
            for box, outputs in found[owners[n]]:
                if tuple(box) == tuple(stored[i].box):
                    costs = [o.astype(np.float32) for o in outputs]
                    images += [c - c.min(axis=1, keepdims=True) for c in costs] if relative else costs
                    image_owner += [n] * len(outputs)
                    break
        queries = {}
        for plate in dataset.plates:
            cos = np.array(plate_index.cosine(plate_index.embed_plate(plate), ids), np.float32)
            read = np.array([s for s, _ in best_readings(plate, [stored[i].ocr_text for i in ids])], np.float32)
            spotted = np.zeros(len(ids), np.float32)
            np.maximum.at(spotted, image_owner, spotting_scores(plate, images))
            pool = np.zeros(len(ids), bool)
            pool[np.argsort(-cos, kind="stable")[:POOL]] = pool[np.argsort(-read, kind="stable")[:POOL]] = True
            queries[plate] = (cos, read, spotted, pool)
    return {"queries": queries, "owners": owners, "plates_of": plates_of}


def _nearness_to_shipped(setting: tuple) -> float:
    """Breaks ties between settings of equal mean top-1: the one changing least from the shipped."""
    return -abs(setting[0] - SHIPPED[0]) - setting[1]


def top1(data: dict, setting: tuple, holdout: bool = False) -> tuple[float, int]:
    weight, share, form = setting
    owners = np.array(data["owners"])
    hits = total = 0
    for plate, (cos, read, spotted, pool) in data["queries"].items():
        if holdout and not is_validation_plate(plate):
            continue
        if form == "mix":
            reading = (1 - share) * read + share * spotted
        else:
            reading = np.maximum(read, 0) ** (1 - share) * np.maximum(spotted, 1e-6) ** share
        exact = (read >= EXACT) & (len(plate) >= EXACT_MIN_LENGTH)
        score = np.where(pool, 0.5 * ((1 - weight) * np.clip(cos, 0, 1) + weight * reading) + 0.5 * exact, -np.inf)
        first = set(owners[score == score.max()])
        hits += all(plate in data["plates_of"].get(p, ()) for p in first)
        total += 1
    return hits / max(total, 1), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", help=f"default: every set ({', '.join(SETS)})")
    parser.add_argument("--indexes", type=Path, required=True, help="the photo sets' indexes (pipeline_at_default.py)")
    parser.add_argument("--crop-indexes", type=Path, required=True, help="the crop sets' indexes")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--relative",
        action="store_true",
        help="each frame's costs relative to its best class (the query against the best path)",
    )
    args = parser.parse_args()
    names = args.sets or list(SETS)
    data = {}
    for name in names:
        folder, crops, _ = SETS[name]
        found = gather(folder, crops, args.cache / f"{name}.pkl")
        data[name] = signals(folder, (args.crop_indexes if crops else args.indexes) / name, found, args.relative)
        print(f"{name}: {len(data[name]['owners'])} crops", flush=True)
    table = {name: {setting: top1(data[name], setting)[0] for setting in GRID} for name in names}
    out: dict = {"grid": {" ".join(map(str, s)): {n: table[n][s] for n in names} for s in GRID}, "leave_one_out": {}}
    print(
        f"{'left out':20s} {'chosen (weight, share, form)':32s} top-1 chosen / shipped   held-out plates chosen / shipped"
    )
    for left_out in names:
        others = [n for n in names if n != left_out]
        mean = {s: float(np.mean([table[n][s] for n in others])) for s in GRID}
        chosen = max(GRID, key=lambda s: (round(mean[s], 6), _nearness_to_shipped(s)))
        held, shipped_held = top1(data[left_out], chosen, True), top1(data[left_out], SHIPPED, True)
        out["leave_one_out"][left_out] = {
            "chosen": chosen,
            "top1": table[left_out][chosen],
            "shipped_top1": table[left_out][SHIPPED],
            "holdout_top1": held[0],
            "shipped_holdout_top1": shipped_held[0],
            "holdout_queries": held[1],
        }
        print(
            f"{left_out:20s} {str(chosen):32s} {table[left_out][chosen]:.3f} / {table[left_out][SHIPPED]:.3f}"
            f"            {held[0]:.3f} / {shipped_held[0]:.3f} (n={held[1]})"
        )
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
