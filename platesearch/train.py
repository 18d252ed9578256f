"""Train the autoencoder real crop -> synthetic render, with an InfoNCE term on the embeddings.

Reconstruction alone leaves embeddings that do not separate plates (measured: chance-level
retrieval); the contrastive term pulls each real crop's embedding toward the embedding of
its own render and away from the other renders in the batch. Run through
`platesearch train --config experiments/default.yaml --out runs/default`.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from platesearch.binarize import binarize
from platesearch.config import CANVAS_HEIGHT, CANVAS_WIDTH, PACKAGE_DIR, plate_rules
from platesearch.datasets import LabelledImage, is_validation_plate, load_dataset
from platesearch.degrade import check_families, degrade
from platesearch.media import ImageReadError, file_sha256, read_image
from platesearch.metrics import embedding_retrieval
from platesearch.model import (
    ENCODER_NAME,
    MANIFEST_FILE,
    MODEL_FILE,
    PREPROCESSING_VERSION,
    ModelManifest,
    encode,
    to_model_input,
)
from platesearch.render import render_plate
from platesearch.runtime import configure_tensorflow
from platesearch.synth import DIGITS, LAYOUT_POOLS, LAYOUTS, LETTERS, random_plate_text, synthetic_plate_photo

DEFAULT_DATASETS_ROOT = PACKAGE_DIR.parent.parent / "shared" / "datasets"
CTC_ALPHABET = plate_rules().alphabet
# The config fields that decide the prepared data: runs that agree on them can share data.npz.
DATA_FIELDS = {
    "seed",
    "synthetic_samples",
    "synthetic_layouts",
    "real_augmentations",
    "datasets",
    "validation_dataset",
    "degradations",
    "degradation_probability",
}


class TrainConfig(BaseModel):
    """A training run, as data (`experiments/*.yaml`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    architecture: str = Field(pattern="^(thesis|platesearch-v1)$")
    channels: tuple[int, ...]
    embedding_dim: int = 256
    seed: int = 0
    epochs: int = Field(gt=0)
    steps_per_epoch: int = Field(gt=0)
    batch_size: int = Field(gt=1)
    learning_rate: float = 1e-3
    reconstruction_weight: float = 1.0
    contrastive_weight: float = 1.0
    temperature: float = 0.1
    synthetic_samples: int = 0
    synthetic_fraction: float = Field(0.5, ge=0, le=1)
    # The texts synthetic plates show, one layout drawn uniformly per plate (synth.LAYOUT_POOLS:
    # L letter, D digit, X either). Adding plates of 3 to 5 characters, which only the US crops
    # have, did not lift left-out short US plates (experiments/RESULTS.md §0b): their misses are
    # binarization.
    synthetic_layouts: tuple[str, ...] = Field(LAYOUTS, min_length=1)
    real_augmentations: int = 4
    datasets: tuple[str, ...] = ("openalpr-us-crops", "openalpr-eu", "openalpr-br")
    datasets_root: Path = DEFAULT_DATASETS_ROOT
    validation_dataset: str = "openalpr-us-crops"
    time_budget_minutes: float = 55.0
    # Random scale/shift of binarized training inputs (probability per image): real crops'
    # text is not always placed exactly like the render (a logo or region text in the box).
    geometric_jitter: float = Field(0.0, ge=0, le=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    # Camera degradations (platesearch.degrade) applied to augmented real crops and synthetic
    # plates before binarizing, each family independently with `degradation_probability`.
    degradations: tuple[str, ...] = ()
    degradation_probability: float = Field(0.25, ge=0, le=1)
    # Renders of plate texts one or two characters away from plates in the batch, added as
    # extra InfoNCE negatives: the crop must pick its own plate over a near miss.
    hard_negatives: int = Field(0, ge=0)
    # Weight of an auxiliary CTC loss reading the plate text off the encoder's 4x64 feature
    # grid (platesearch-v1 only; training-only head, not saved): it asks the trunk to keep which
    # character sits where, which the pooled embedding can otherwise trade for style.
    ctc_weight: float = Field(0.0, ge=0)
    # platesearch-v1 only: a second 3x3 convolution (stride 1) after each of the last
    # `refine_convs` strided blocks. With none, a cell of the 4x64 grid sees 31 px of the 64-px
    # high plate, less than a character; after the last two blocks, 63 px: a character and its
    # neighbours, for about 1.8x the encoder's multiply-adds.
    refine_convs: int = Field(0, ge=0)
    # Validation and the exported model use an exponential moving average of the weights over
    # the training steps, with this momentum a step (0: the weights as trained). The weights at
    # an epoch's end follow its last batches; left out of training, three seeds of one recipe
    # scored 0.896-0.917 on the US crops. Averaged (0.995), two of them scored 0.901 and 0.900:
    # no lift beyond that spread (MODEL_CARD.md), so no recipe sets it.
    weight_average: float = Field(0.0, ge=0, lt=1)

    @field_validator("synthetic_layouts")
    @classmethod
    def _known_layout_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for layout in value:
            if not layout or set(layout) - set(LAYOUT_POOLS):
                raise ValueError(f"layout {layout!r}: use one of {''.join(LAYOUT_POOLS)} per character")
        return value

    @field_validator("degradations")
    @classmethod
    def _known_degradations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_families(value)

    @model_validator(mode="after")
    def _fits_the_architecture(self) -> TrainConfig:
        """Refused when the config is read, not after minutes of data preparation."""
        if self.ctc_weight and self.architecture != "platesearch-v1":
            raise ValueError("ctc_weight needs the platesearch-v1 architecture (a 4x64 feature grid)")
        if self.refine_convs and self.architecture != "platesearch-v1":
            raise ValueError("refine_convs needs the platesearch-v1 architecture (strided blocks)")
        if self.refine_convs > len(self.channels):
            raise ValueError(f"refine_convs is {self.refine_convs}, but there are {len(self.channels)} blocks")
        return self

    @classmethod
    def load(cls, path: Path | str) -> TrainConfig:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def build_autoencoder(config: TrainConfig):
    """The autoencoder: nested `encoder` (image -> embedding) and `decoder` (embedding -> render).

    With `ctc_weight`, also a training-only `reader` (image -> embedding, per-column character
    logits) sharing the encoder's layers; otherwise `reader` is None. Only the autoencoder is saved.
    """
    import keras
    from keras import layers

    reader = None
    inputs = keras.Input((CANVAS_HEIGHT, CANVAS_WIDTH, 1), name="ink")
    if config.architecture == "thesis":
        # The study's listing: Conv2D + MaxPooling2D blocks down to a 2x16x8 bottleneck.
        x = inputs
        for channels in config.channels:
            x = layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D(2)(x)
        bottleneck_shape = tuple(int(d) for d in x.shape[1:])
        embedding = layers.Flatten(name="embedding")(x)
        encoder = keras.Model(inputs, embedding, name=ENCODER_NAME)
        code = keras.Input((embedding.shape[-1],), name="code")
        y = layers.Reshape(bottleneck_shape)(code)
        for channels in reversed(config.channels):
            y = layers.Conv2D(channels, 3, padding="same", activation="relu")(y)
            y = layers.UpSampling2D(2)(y)
    else:
        # Strided conv blocks with batch norm, halving height and width (only height in the
        # last block), down to 4x64 for four blocks: a column per 1/64 of the plate, so the
        # order of the characters survives; a 1x1 squeeze, then a dense embedding.
        x = inputs
        strides = [2] * (len(config.channels) - 1) + [(2, 1)]
        refined = [False] * (len(config.channels) - config.refine_convs) + [True] * config.refine_convs
        for channels, stride, refine in zip(config.channels, strides, refined, strict=True):
            for step in (stride, 1) if refine else (stride,):
                x = layers.Conv2D(channels, 3, strides=step, padding="same", use_bias=False)(x)
                x = layers.BatchNormalization()(x)
                x = layers.ReLU()(x)
        grid = x
        x = layers.Conv2D(16, 1, activation="relu")(x)
        bottleneck_shape = tuple(int(d) for d in x.shape[1:])
        x = layers.Flatten()(x)
        if config.dropout:
            x = layers.Dropout(config.dropout)(x)
        embedding = layers.Dense(config.embedding_dim, name="embedding")(x)
        encoder = keras.Model(inputs, embedding, name=ENCODER_NAME)
        if config.ctc_weight:
            # columns of the grid as time steps, read by a bidirectional GRU: on clean renders
            # alone a width-5 convolution head stayed on CTC's all-blank plateau for 400 steps,
            # where this one left it after about 250
            rows, columns, channels = (int(d) for d in grid.shape[1:])
            sequence = layers.Reshape((columns, rows * channels))(layers.Permute((2, 1, 3))(grid))
            sequence = layers.Bidirectional(layers.GRU(64, return_sequences=True))(sequence)
            logits = layers.Dense(len(CTC_ALPHABET) + 1, name="ctc_logits")(sequence)
            reader = keras.Model(inputs, [embedding, logits], name="reader")
        code = keras.Input((config.embedding_dim,), name="code")
        y = layers.Dense(int(np.prod(bottleneck_shape)), activation="relu")(code)
        y = layers.Reshape(bottleneck_shape)(y)
        # Mirror the encoder up to half resolution; a bilinear 2x upsampling finishes the
        # render (full-resolution decoder convolutions cost more than the whole encoder).
        for channels, size in zip(
            reversed(config.channels[:-1]), [(2, 1)] + [2] * (len(config.channels) - 2), strict=True
        ):
            y = layers.Conv2D(channels, 3, padding="same", activation="relu")(y)
            y = layers.UpSampling2D(size)(y)
    y = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(y)
    if y.shape[1] != CANVAS_HEIGHT:
        y = layers.UpSampling2D(CANVAS_HEIGHT // y.shape[1], interpolation="bilinear")(y)
    reconstruction = y
    decoder = keras.Model(code, reconstruction, name="decoder")
    embedded = encoder(inputs)
    outputs = {"embedding": embedded, "reconstruction": decoder(embedded)}
    return keras.Model(inputs, outputs, name=f"autoencoder_{config.architecture}"), reader


def ctc_labels(plates: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Plate texts as CTC targets: int32 [n, max_length] indices into CTC_ALPHABET (padded), and lengths.

    Characters the alphabet lacks (a CN plate's province character is not in its label anyway)
    are left out; the blank is the last class.
    """
    width = plate_rules().max_length
    labels = np.zeros((len(plates), width), np.int32)
    lengths = np.zeros(len(plates), np.int32)
    for row, plate in enumerate(plates):
        indices = [CTC_ALPHABET.index(c) for c in plate if c in CTC_ALPHABET][:width]
        labels[row, : len(indices)] = indices
        lengths[row] = len(indices)
    return labels, lengths


# ---------------------------------------------------------------- data


def _jittered_crop(image: np.ndarray, box: tuple[int, int, int, int] | None, rng: np.random.Generator) -> np.ndarray:
    """A crop as a localizer might cut it: the plate box (or the whole crop) with random margins."""
    if box is None:
        h, w = image.shape[:2]
        box, image_margin = (0, 0, w, h), (-0.06, 0.04)
    else:
        image_margin = (-0.03, 0.15)
    x, y, w, h = box
    dx0, dx1, dy0, dy1 = rng.uniform(*image_margin, 4)
    x0, x1 = int(max(0, x - dx0 * w)), int(min(image.shape[1], x + w + dx1 * w))
    y0, y1 = int(max(0, y - dy0 * h)), int(min(image.shape[0], y + h + dy1 * h))
    crop = image[y0:y1, x0:x1]
    angle = rng.uniform(-3, 3)
    matrix = cv2.getRotationMatrix2D((crop.shape[1] / 2, crop.shape[0] / 2), angle, 1.0)
    crop = cv2.warpAffine(crop, matrix, (crop.shape[1], crop.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    return cv2.convertScaleAbs(crop, alpha=rng.uniform(0.7, 1.3), beta=rng.uniform(-30, 30))


def labelled_crop(image: np.ndarray, item: LabelledImage) -> np.ndarray:
    """The labelled plate region of an image (the whole image for crop datasets)."""
    if item.box is None:
        return image
    x, y, w, h = item.box
    return image[max(0, y) : y + h, max(0, x) : x + w]


# degrade() with the config's families and probability bound: (image, rng) -> image, picklable
Degrading = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _binarized_versions(args: tuple[str, tuple | None, int, int, Degrading]) -> list[np.ndarray]:
    """The labelled crop as-is, then `augmentations` jittered and degraded versions, binarized."""
    path, box, augmentations, seed, degrading = args
    try:
        image = read_image(path)
    except ImageReadError:
        return []  # counted as unreadable by prepare_data
    rng = np.random.default_rng(seed)
    item = LabelledImage(Path(path), "", box)
    versions = [binarize(labelled_crop(image, item))]
    versions += [binarize(degrading(_jittered_crop(image, box, rng), rng)) for _ in range(augmentations)]
    return versions


def _synthetic_sample(args: tuple[int, tuple[str, ...], Degrading]) -> tuple[np.ndarray, str]:
    seed, layouts, degrading = args
    rng = np.random.default_rng(seed)
    text = random_plate_text(rng, layouts)
    return binarize(degrading(synthetic_plate_photo(text, rng), rng)), text


@dataclass
class PairSet:
    """Binarized images and the plate text each one shows."""

    images: np.ndarray  # uint8 [n, 64, 512]
    plates: list[str]


def prepare_data(config: TrainConfig, progress: Progress) -> tuple[PairSet, PairSet, dict]:
    """Training pairs (real, augmented, synthetic) and validation crops of held-out plates."""
    train_items, val_items = [], []
    summary: dict = {"datasets": {}}
    for name in config.datasets:
        dataset = load_dataset(config.datasets_root / name)
        train = [i for i in dataset.items if not is_validation_plate(i.plate)]
        val = [i for i in dataset.items if is_validation_plate(i.plate)]
        train_items += train
        if name == config.validation_dataset:
            val_items = val
        summary["datasets"][name] = {"train_images": len(train), "validation_images": len(val)}
    degrading = partial(degrade, families=config.degradations, probability=config.degradation_probability)
    jobs = [
        (str(i.path), i.box, config.real_augmentations, config.seed * 100_003 + n, degrading)
        for n, i in enumerate(train_items)
    ]
    val_jobs = [(str(i.path), i.box, 0, 0, degrading) for i in val_items]
    with multiprocessing.get_context("spawn").Pool(max(1, multiprocessing.cpu_count())) as pool:
        task = progress.add_task("binarize real crops", total=len(jobs) + len(val_jobs), status="")
        train_images, train_plates, unreadable = [], [], []
        for item, versions in zip(train_items, pool.imap(_binarized_versions, jobs, chunksize=8), strict=True):
            train_images += versions
            train_plates += [item.plate] * len(versions)
            unreadable += [] if versions else [str(item.path)]
            progress.advance(task)
        val_images, val_plates = [], []
        for item, versions in zip(val_items, pool.imap(_binarized_versions, val_jobs, chunksize=8), strict=True):
            val_images += versions
            val_plates += [item.plate] * len(versions)
            unreadable += [] if versions else [str(item.path)]
            progress.advance(task)
        task = progress.add_task("synthetic plates", total=config.synthetic_samples, status="")
        for image, text in pool.imap(
            _synthetic_sample,
            [
                (seed, config.synthetic_layouts, degrading)
                for seed in range(config.seed * 10_000_019, config.seed * 10_000_019 + config.synthetic_samples)
            ],
            chunksize=32,
        ):
            train_images.append(image)
            train_plates.append(text)
            progress.advance(task)
    if unreadable:
        progress.console.print(f"skipped {len(unreadable)} unreadable image(s): {', '.join(unreadable)}")
    n_real = len(train_plates) - config.synthetic_samples
    summary.update(
        unreadable_images=unreadable,
        real_train_plates=len({i.plate for i in train_items}),
        real_train_images=n_real // (1 + config.real_augmentations),
        real_train_pairs=n_real,
        synthetic_pairs=config.synthetic_samples,
        validation_plates=len({i.plate for i in val_items}),
        validation_images=len(val_items),
        split="plate text held out when crc32(text) % 4 == 0 (platesearch.datasets.is_validation_plate)",
        degradations={"families": list(config.degradations), "probability": config.degradation_probability},
    )
    train = PairSet(np.stack(train_images), train_plates)
    val = PairSet(np.stack(val_images), val_plates)
    return train, val, summary


# ---------------------------------------------------------------- training


def _batch_indices(
    rng: np.random.Generator, n_real: int, n_total: int, config: TrainConfig, plates: list[str]
) -> np.ndarray:
    """A batch of distinct plate texts, `synthetic_fraction` of them synthetic."""
    n_synth = int(round(config.batch_size * config.synthetic_fraction)) if n_total > n_real else 0
    picks = list(rng.integers(0, n_real, config.batch_size * 2))
    if n_synth:
        picks = list(rng.integers(n_real, n_total, n_synth)) + picks
    chosen, seen = [], set()
    for index in picks:
        if plates[index] not in seen:
            seen.add(plates[index])
            chosen.append(index)
        if len(chosen) == config.batch_size:
            break
    return np.array(chosen)


def near_miss(plate: str, rng: np.random.Generator) -> str:
    """`plate` with one or two characters replaced by others of the same kind (letter or digit)."""
    chars = list(plate)
    for position in rng.choice(len(chars), size=min(len(chars), int(rng.integers(1, 3))), replace=False):
        pool = DIGITS if chars[position].isdigit() else LETTERS
        chars[position] = pool[(pool.index(chars[position]) + int(rng.integers(1, len(pool)))) % len(pool)]
    return "".join(chars)


def hard_negative_renders(plates: list[str], count: int, rng: np.random.Generator) -> np.ndarray:
    """Renders of near misses of `count` plates of the batch, none of them a plate in the batch."""
    taken, renders = set(plates), []
    for plate in rng.choice(plates, size=min(count, len(plates)), replace=False):
        miss = near_miss(str(plate), rng)
        if miss not in taken:
            taken.add(miss)
            renders.append(render_plate(miss))
    return np.stack(renders) if renders else np.full((0, CANVAS_HEIGHT, CANVAS_WIDTH), 255, np.uint8)


def jitter_geometry(images: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    """Randomly rescale (anisotropically) and shift binarized 64x512 images, white borders."""
    out = images.copy()
    for i in np.flatnonzero(rng.random(len(images)) < probability):
        sx, sy = rng.uniform(0.75, 1.2), rng.uniform(0.8, 1.08)
        dx, dy = rng.uniform(-24, 24), rng.uniform(-3, 3)
        matrix = np.float32([[sx, 0, (1 - sx) * CANVAS_WIDTH / 2 + dx], [0, sy, (1 - sy) * CANVAS_HEIGHT / 2 + dy]])
        warped = cv2.warpAffine(
            images[i], matrix, (CANVAS_WIDTH, CANVAS_HEIGHT), flags=cv2.INTER_LINEAR, borderValue=255
        )
        out[i] = np.where(warped < 128, 0, 255)
    return out


def validate(encoder, val: PairSet) -> dict[str, float]:
    """Retrieval on held-out real crops: queries = their distinct plates, rendered."""
    queries = list(dict.fromkeys(val.plates))
    renders = np.stack([render_plate(p) for p in queries])
    return embedding_retrieval(
        encode(encoder, renders, 128), queries, encode(encoder, val.images, 128), val.plates, ks=(1, 3, 10)
    )


@contextmanager
def _weights_swapped(weights: list, replacements: list) -> Iterator[None]:
    """`weights` hold `replacements`' values inside the block and their own again after it."""
    own = [w.numpy() for w in weights]
    for weight, replacement in zip(weights, replacements, strict=True):
        weight.assign(replacement.numpy())
    try:
        yield
    finally:
        for weight, value in zip(weights, own, strict=True):
            weight.assign(value)


def train(config: TrainConfig, out_dir: Path) -> dict:
    """Train (resuming from `out_dir` if a checkpoint is there) and export the model to `out_dir`."""
    configure_tensorflow()
    import keras
    import tensorflow as tf

    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    started = time.time()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    with Progress(*columns) as progress:
        data_file = out_dir / "data.npz"
        data_key = config.model_dump(mode="json", include=DATA_FIELDS)
        summary_file = out_dir / "data_summary.json"
        if (
            data_file.exists()
            and summary_file.exists()
            and json.loads(summary_file.read_text()).get("data_key") == data_key
        ):
            cached = np.load(data_file)
            train_set = PairSet(cached["train_images"], cached["train_plates"].tolist())
            val_set = PairSet(cached["val_images"], cached["val_plates"].tolist())
            summary = json.loads(summary_file.read_text())
        else:
            train_set, val_set, summary = prepare_data(config, progress)
            summary["data_key"] = data_key
            np.savez(
                data_file,
                train_images=train_set.images,
                train_plates=np.array(train_set.plates),
                val_images=val_set.images,
                val_plates=np.array(val_set.plates),
            )
            summary_file.write_text(json.dumps(summary, indent=2))
        n_real = summary["real_train_pairs"]
        renders = {p: render_plate(p) for p in dict.fromkeys(train_set.plates)}

        autoencoder, reader = build_autoencoder(config)
        encoder, decoder = autoencoder.get_layer(ENCODER_NAME), autoencoder.get_layer("decoder")
        optimizer = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * config.steps_per_epoch)
        )
        temperature = tf.constant(config.temperature)
        variables = autoencoder.trainable_variables
        if reader is not None:
            known = {id(v) for v in variables}
            variables = variables + [v for v in reader.trainable_variables if id(v) not in known]

        # By hand rather than Keras's optimizer EMA (use_ema): that one averages only the variables
        # it trains, not the batch-norm statistics, and keeps its averages in private attributes,
        # which the per-epoch validation below would have to swap in.
        averaged_sources = (
            [w for w in autoencoder.weights if w.dtype.startswith("float")] if config.weight_average else []
        )
        averaged = [tf.Variable(w.numpy(), trainable=False) for w in averaged_sources]

        @tf.function(reduce_retracing=True)
        def train_step(real, render, negatives, labels, label_lengths):
            with tf.GradientTape() as tape:
                n = tf.shape(real)[0]
                images = tf.concat([real, render, negatives], 0)
                if reader is None:
                    embedded, ctc_loss = encoder(images, training=True), tf.constant(0.0)
                else:
                    embedded, logits = reader(images, training=True)
                    # the crops and their renders read the same text
                    ctc_loss = tf.reduce_mean(
                        tf.nn.ctc_loss(
                            tf.concat([labels, labels], 0),
                            logits[: 2 * n],
                            tf.concat([label_lengths, label_lengths], 0),
                            tf.fill([2 * n], tf.shape(logits)[1]),
                            logits_time_major=False,
                            blank_index=-1,
                        )
                    )
                e_real, e_render = embedded[:n], embedded[n:]
                reconstruction = decoder(e_real, training=True)
                rec_loss = tf.reduce_mean(tf.square(reconstruction - render))
                z_real, z_render = tf.math.l2_normalize(e_real, 1), tf.math.l2_normalize(e_render, 1)
                # crop -> renders: the batch's renders plus the near misses; render -> crops: square part
                logits_nce = tf.matmul(z_real, z_render, transpose_b=True) / temperature
                targets = tf.range(n)
                nce = 0.5 * (
                    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits_nce))
                    + tf.reduce_mean(
                        tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.transpose(logits_nce[:, :n]))
                    )
                )
                loss = config.reconstruction_weight * rec_loss + config.contrastive_weight * nce
                loss += config.ctc_weight * ctc_loss
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            if averaged:
                # a shorter memory over the first steps, so the initial weights fade out fast
                step = tf.cast(optimizer.iterations, tf.float32)
                momentum = tf.minimum(config.weight_average, (1 + step) / (10 + step))
                for average, weight in zip(averaged, averaged_sources, strict=True):
                    average.assign(momentum * average + (1 - momentum) * tf.convert_to_tensor(weight))
            return loss, rec_loss, nce, ctc_loss

        tracked = {"model": autoencoder} if reader is None else {"model": autoencoder, "reader": reader}
        if averaged:
            tracked["averaged"] = averaged
        checkpoint = tf.train.Checkpoint(**tracked, optimizer=optimizer, epoch=tf.Variable(0))
        manager = tf.train.CheckpointManager(checkpoint, out_dir / "checkpoints", max_to_keep=2)
        history_file = out_dir / "history.json"
        history: list[dict] = json.loads(history_file.read_text()) if history_file.exists() else []
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint)
            progress.console.print(f"resumed from {manager.latest_checkpoint} (epoch {int(checkpoint.epoch)})")
        rng = np.random.default_rng(config.seed + int(checkpoint.epoch))
        best = max((h["val_top1"] for h in history), default=-1.0)
        epochs = progress.add_task("epochs", total=config.epochs, completed=int(checkpoint.epoch), status="")
        while int(checkpoint.epoch) < config.epochs:
            if (time.time() - started) / 60 > config.time_budget_minutes:
                progress.console.print(f"time budget of {config.time_budget_minutes} min reached: stopping early")
                break
            steps = progress.add_task(f"epoch {int(checkpoint.epoch) + 1}", total=config.steps_per_epoch, status="")
            sums = np.zeros(4)
            for _ in range(config.steps_per_epoch):
                index = _batch_indices(rng, n_real, len(train_set.plates), config, train_set.plates)
                real = to_model_input(jitter_geometry(train_set.images[index], rng, config.geometric_jitter))
                batch_plates = [train_set.plates[i] for i in index]
                render = to_model_input(np.stack([renders[p] for p in batch_plates]))
                negatives = to_model_input(hard_negative_renders(batch_plates, config.hard_negatives, rng))
                labels, label_lengths = ctc_labels(batch_plates)
                losses = train_step(*(tf.constant(a) for a in (real, render, negatives, labels, label_lengths)))
                sums += [float(v) for v in losses]
                progress.advance(steps)
            progress.remove_task(steps)
            checkpoint.epoch.assign_add(1)
            with _weights_swapped(averaged_sources, averaged):
                metrics = validate(encoder, val_set)
                if metrics["top1"] > best:
                    best = metrics["top1"]
                    autoencoder.save(out_dir / "best.keras")
            loss, rec, nce, ctc = sums / config.steps_per_epoch
            history.append(
                {
                    "epoch": int(checkpoint.epoch),
                    "loss": loss,
                    "reconstruction": rec,
                    "contrastive": nce,
                    "ctc": ctc,
                    "val_top1": metrics["top1"],
                    "val_top3": metrics["top3"],
                    "val_mrr": metrics["mrr"],
                    "minutes": (time.time() - started) / 60,
                }
            )
            manager.save()
            history_file.write_text(json.dumps(history, indent=2))
            progress.update(
                epochs,
                advance=1,
                status=f"loss {loss:.3f} rec {rec:.4f} nce {nce:.3f} ctc {ctc:.2f} val top1 {metrics['top1']:.3f} top3 {metrics['top3']:.3f}",
            )
    best_epoch = max(history, key=lambda h: h["val_top1"])
    export(out_dir, config, summary, best_epoch, total_minutes=(time.time() - started) / 60)
    plot_history(history, out_dir / "training.png", config.name)
    return best_epoch


def export(out_dir: Path, config: TrainConfig, summary: dict, best_epoch: dict, total_minutes: float) -> None:
    """Write `autoencoder.keras` (the best epoch by validation top-1) and its manifest. A
    finished run given more epochs, none of them better, keeps the model it exported before."""
    model_path = out_dir / MODEL_FILE
    if (out_dir / "best.keras").exists() or not model_path.exists():
        (out_dir / "best.keras").replace(model_path)
    manifest = ModelManifest(
        architecture=config.architecture + (f"+refine{config.refine_convs}" if config.refine_convs else ""),
        embedding_dim=config.embedding_dim
        if config.architecture != "thesis"
        else int(np.prod([2, 16, config.channels[-1]])),
        preprocessing_version=PREPROCESSING_VERSION,
        sha256=file_sha256(model_path),
        training={"config": config.name, "data": summary, "best_epoch": best_epoch, "minutes": round(total_minutes, 1)},
    )
    manifest.write(out_dir / MANIFEST_FILE)


def plot_history(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h["loss"] for h in history], label="total")
    left.plot(epochs, [h["contrastive"] for h in history], label="InfoNCE")
    left.plot(epochs, [h["reconstruction"] for h in history], label="reconstruction (MSE)")
    left.set_xlabel("epoch"), left.set_title("training loss"), left.legend(), left.set_yscale("log")
    right.plot(epochs, [h["val_top1"] for h in history], label="top-1")
    right.plot(epochs, [h["val_top3"] for h in history], label="top-3")
    (
        right.set_xlabel("epoch"),
        right.set_title("validation retrieval (held-out real crops)"),
        right.set_ylim(0, 1),
        right.legend(),
    )
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
