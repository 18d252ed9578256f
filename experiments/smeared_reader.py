"""Fine-tune EasyOCR's recognizer on smeared, deconvolved plate text: the weights of
`platesearch/smeared_text.py` (issue #12, motion blur).

Under motion blur the localizer deconvolves the photo (restore.py), and a person then reads
most plates the recognizer reads 1-3 characters off. This trains a copy of the recognizer
(EasyOCR english_g2, all layers) with CTC on plate crops as the pipeline sees them in a
smeared photo: cut with random margins, shrunk so the plate is 50-160 px wide, smeared 3-15 px
along a line within 25 degrees of the horizontal, defocused, JPEG-compressed, deconvolved with
restore's filter at a length up to 2 px off the true one less one, read lit when dark, as
localize reads a crop. A share of each batch is synthetic plates (synth.py). Labels are plate
texts only.

The real crops are the US crops and the BR camera crops, less every plate of the US stress
frame sets (`build/stress/us-on-cars-*`, made by datasets/make_stress.py). No photo set is
trained on (the EU and BR photos, and the frame sets made of them, stay out), because the
reader reads every photo's candidates: every photo set's plates stay unseen. One plate
text in four of the rest (datasets.is_validation_plate) is held out, and read after every
`--val-every` steps; the weights are those of the last step (no step is picked). The reader
also reads crop files (`index --crops`), and it trains on both crop sets: on them it is
measured with the same recipe trained on the other set alone (`--datasets`, RESULTS.md §0,
"The reader on crop sets").

`--conditions as-read` trains on crops as the pipeline reads every photo's candidates instead:
half smeared and deconvolved as above, the rest sharp, lightly smeared and read as they are, or
out of focus and read as they are or refocused: the second reader of every photo's candidates
(`as_read_text_recognizer.*`; experiments/RESULTS.md §0, "A reader trained on crops as they are
read" and "Both readers, built").

Reproduce the shipped weights (about 40 min each on 2 cores), then copy the two files each run
writes to --out into platesearch/weights/:

    .venv/bin/python datasets/make_stress.py
    .venv/bin/python experiments/smeared_reader.py --out runs/smeared-reader
    .venv/bin/python experiments/smeared_reader.py --conditions as-read --out runs/reader-as-read
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from platesearch.datasets import is_validation_plate, load_dataset
from platesearch.degrade import line_kernel
from platesearch.localize import easyocr_model_dir, lit
from platesearch.media import file_sha256, read_image
from platesearch.restore import MAX_BLUR, MAX_RADIUS, MIN_BLUR, MIN_RADIUS, deconvolved, disk, refocused
from platesearch.smeared_text import (
    AS_READ_MANIFEST,
    AS_READ_WEIGHTS,
    MANIFEST,
    WEIGHTS,
    allowed_classes,
    greedy_decode,
    prepared_line,
)
from platesearch.synth import random_plate_text, synthetic_plate_photo

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("openalpr-us-crops", "openalpr-br-crops")  # crop sets only: no photo set's plate is trained on
PAD = 16  # px of border replicated around a training crop while it is blurred


def stress_plates(stress: Path) -> set[str]:
    """The plates of the US stress frame sets, which the blurred sets are made of."""
    labels = sorted(stress.glob("us-on-cars-*/labels.csv"))
    if not labels:
        raise SystemExit(f"no US stress frame set under {stress}: run datasets/make_stress.py first")
    return {row["plate"] for path in labels for row in csv.DictReader(path.open())}


def real_crops(data: Path, names: tuple[str, ...], excluded: set[str]) -> tuple[list, list]:
    """(image, box, plate) of the real sets, split by is_validation_plate, `excluded` plates left out."""
    train, val = [], []
    for name in names:
        for item in load_dataset(data / name).items:
            if item.plate not in excluded:
                (val if is_validation_plate(item.plate) else train).append(
                    (read_image(item.path), item.box, item.plate)
                )
    return train, val


def cut(image: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    """The labelled plate with margins like localize's cut (jittered), or the whole crop."""
    if box is None:
        return image
    x, y, w, h = box
    mx, my = rng.uniform(0.0, 0.12) * w, rng.uniform(0.05, 0.3) * h
    x0, y0 = int(max(0, x - mx)), int(max(0, y - my))
    return image[y0 : int(y + h + my), x0 : int(x + w + mx)]


def smeared(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop as the pipeline reads it from a smeared photo after restore's deconvolution."""
    crop = shrunk(crop, rng)
    length = int(rng.integers(MIN_BLUR, MAX_BLUR + 1))
    crop = jpeg(cv2.GaussianBlur(along_line(crop, length, rng.uniform(-25, 25)), (0, 0), rng.uniform(0.3, 1.2)), rng)
    estimate = int(np.clip(length - 1 + rng.integers(-2, 3), MIN_BLUR, MAX_BLUR))
    return lit(deconvolved(crop, estimate)[PAD:-PAD, PAD:-PAD])


def shrunk(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop shrunk so the plate is 50-160 px wide, PAD px of its border replicated around
    (the blurs and the deconvolution then do not reach the plate from outside the image)."""
    scale = int(rng.integers(50, 161)) / crop.shape[1]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(crop, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)


def along_line(crop: np.ndarray, length: int, angle: float) -> np.ndarray:
    """The crop smeared along a `length`-px line turned `angle` degrees from the horizontal."""
    kernel = line_kernel(length, angle)
    return cv2.filter2D(crop, -1, kernel / max(kernel.sum(), 1e-6))


def jpeg(crop: np.ndarray, rng: np.random.Generator, qualities: tuple[int, int] = (45, 86)) -> np.ndarray:
    """The crop JPEG-compressed at a quality drawn from `qualities` (high end excluded)."""
    quality = int(rng.integers(*qualities))
    return cv2.imdecode(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def as_read(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop as the pipeline reads it in any photo (`--conditions as-read`), not only in a
    smeared one: half the time smeared and deconvolved (`smeared`); else sharp, lightly smeared
    (3-5 px) and read as it is (a photo perhaps smeared, or not taken as smeared), or out of
    focus (a disk of 1.5-3 px) read as it is or refocused at its radius give or take 0.5 px."""
    condition = rng.choice(["smeared", "sharp", "lightly smeared", "out of focus"], p=[0.5, 0.15, 0.2, 0.15])
    if condition == "smeared":
        return smeared(crop, rng)
    crop = shrunk(crop, rng)
    if condition == "lightly smeared":
        crop = along_line(crop, int(rng.integers(3, 6)), rng.uniform(-20, 20))
        crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.0))
    elif condition == "out of focus":
        radius = rng.uniform(1.5, 3.0)
        crop = jpeg(cv2.filter2D(crop, -1, disk(radius)), rng, (55, 81))
        if rng.random() < 0.5:
            crop = refocused(crop, float(np.clip(radius + rng.uniform(-0.5, 0.5), MIN_RADIUS, MAX_RADIUS)))
        return lit(crop[PAD:-PAD, PAD:-PAD])
    return lit(jpeg(crop, rng)[PAD:-PAD, PAD:-PAD])


CONDITIONS = {  # --conditions: how each training crop is degraded, and the shipped files the run writes
    "smeared": (smeared, WEIGHTS, MANIFEST),
    "as-read": (as_read, AS_READ_WEIGHTS, AS_READ_MANIFEST),
}


def base_recognizer():
    """EasyOCR's english_g2 recognizer in float32 (not quantized: it is trained) and its label converter."""
    import easyocr

    reader = easyocr.Reader(
        ["en"],
        gpu=False,
        quantize=False,
        model_storage_directory=easyocr_model_dir(),
        download_enabled=False,
        verbose=False,
    )
    return reader.recognizer, reader.converter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated sets under --data")
    parser.add_argument("--stress", type=Path, default=ROOT / "build" / "stress", help="their US plates are left out")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--synthetic", type=float, default=0.3, help="share of synthetic plates in a batch")
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--conditions",
        choices=tuple(CONDITIONS),
        default="smeared",
        help="smeared (the shipped weights): every training crop smeared and deconvolved; as-read: also "
        "sharp, lightly smeared and out-of-focus crops, as the pipeline reads every photo's candidates",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    excluded = stress_plates(args.stress)
    train, val = real_crops(args.data, tuple(args.datasets.split(",")), excluded)
    if not train or not val:
        raise SystemExit(f"{len(train)} training and {len(val)} held-out crops: need both (--data, --datasets)")
    print(f"{len(train)} training crops, {len(val)} held out, {len(excluded)} stress plates left out", flush=True)
    model, converter = base_recognizer()
    characters = list(converter.character)
    allowed = allowed_classes(characters)
    val_rng = np.random.default_rng(1234)
    val_lines = torch.from_numpy(
        np.stack([prepared_line(smeared(cut(i, b, val_rng), val_rng)) for i, b, _ in val])[:, None]
    )

    def val_exact() -> float:
        model.eval()
        with torch.inference_mode():
            reads = [
                t
                for i in range(0, len(val), 64)
                for t in greedy_decode(model(val_lines[i : i + 64], None).numpy(), characters, allowed)
            ]
        model.train()
        return float(np.mean([read == plate for read, (_, _, plate) in zip(reads, val, strict=True)]))

    degrade, shipped_weights, shipped_manifest = CONDITIONS[args.conditions]
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    history = [{"step": 0, "val_exact": val_exact()}]
    print(history[-1], flush=True)
    start, losses = time.time(), []
    model.train()
    for step in range(1, args.steps + 1):
        crops, texts = [], []
        for _ in range(args.batch):
            if rng.random() < args.synthetic:
                texts.append(random_plate_text(rng))
                crops.append(synthetic_plate_photo(texts[-1], rng))
            else:
                image, box, plate = train[rng.integers(len(train))]
                texts.append(plate)
                crops.append(cut(image, box, rng))
        lines = torch.from_numpy(np.stack([prepared_line(degrade(c, rng)) for c in crops])[:, None])
        targets, lengths = converter.encode(texts)
        log_probs = model(lines, None).log_softmax(2).permute(1, 0, 2)  # [steps, batch, classes] for CTC
        loss = ctc(log_probs, targets, torch.full((len(texts),), log_probs.shape[0], dtype=torch.int32), lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % args.val_every == 0 or step == args.steps:
            history.append(
                {
                    "step": step,
                    "loss": float(np.mean(losses[-args.val_every :])),
                    "val_exact": val_exact(),
                    "minutes": round((time.time() - start) / 60, 1),
                }
            )
            print(history[-1], flush=True)
    weights = args.out / shipped_weights.name
    torch.save({k: v.half() for k, v in model.state_dict().items()}, weights)  # half precision: half the wheel's bytes
    manifest = {
        "sha256": file_sha256(weights),
        "base": "EasyOCR english_g2",
        "command": "experiments/smeared_reader.py",
        "arguments": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "train_crops": len(train),
        "held_out_crops": len(val),
        "history": history,
    }
    (args.out / shipped_manifest.name).write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
