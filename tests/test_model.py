"""The shipped model (offline, unit-norm embeddings, right plate nearest) and a tiny training run."""

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from platesearch.binarize import binarize
from platesearch.datasets import is_validation_plate, load_dataset
from platesearch.media import read_image
from platesearch.model import MANIFEST_FILE, MODEL_FILE, ModelError, PlateEmbedder, default_embedder
from platesearch.render import render_plate


def test_shipped_model_embeds_render_and_crop(sample):
    embedder = default_embedder()
    crop = binarize(read_image(next((sample / "crops" / "images").iterdir())))
    vectors = embedder.embed(np.stack([render_plate("AA5149EK"), crop]))
    assert vectors.shape == (2, embedder.manifest.embedding_dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.manifest.sha256 == embedder.model_id and len(embedder.model_id) == 64


def test_render_is_nearest_to_its_own_plate(sample):
    """On real held-out crops, each plate's render is nearer its own crop than most others."""
    dataset = load_dataset(sample / "crops")
    embedder = default_embedder()
    crops = embedder.embed(np.stack([binarize(read_image(i.path)) for i in dataset.items]))
    renders = embedder.embed(np.stack([render_plate(i.plate) for i in dataset.items]))
    similarity = renders @ crops.T
    own = np.diag(similarity)
    nearest_is_own = (similarity.argmax(axis=1) == np.arange(len(own))).mean()
    assert nearest_is_own >= 0.9  # measured with the shipped model: 29 of 30
    assert (own[:, None] > similarity).sum(axis=1).mean() >= 0.9 * (len(own) - 1)


def test_tampered_weights_are_refused(tmp_path):
    from platesearch.model import DEFAULT_MODEL_DIR

    for name in (MODEL_FILE, MANIFEST_FILE):
        (tmp_path / name).write_bytes((DEFAULT_MODEL_DIR / name).read_bytes())
    with open(tmp_path / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="does not match its manifest"):
        PlateEmbedder(tmp_path)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no model"):
        PlateEmbedder(tmp_path)


@pytest.fixture()
def tiny_dataset(tmp_path):
    """A labelled folder of synthetic plate photos, some plates on each side of the split."""
    from platesearch.synth import random_plate_text, synthetic_plate_photo

    rng = np.random.default_rng(3)
    root = tmp_path / "tiny"
    (root / "images").mkdir(parents=True)
    rows, sides = [], set()
    while len(rows) < 24 or len(sides) < 2:
        plate = random_plate_text(rng)
        sides.add(is_validation_plate(plate))
        name = f"images/{len(rows)}.png"
        cv2.imwrite(str(root / name), synthetic_plate_photo(plate, rng))
        rows.append([name, plate])
    with open(root / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["image", "plate"], *rows])
    return root


@pytest.mark.slow
@pytest.mark.parametrize(("ctc_weight", "refine_convs", "weight_average"), [(0.0, 0, 0.0), (0.5, 1, 0.9)])
def test_training_runs_end_to_end(tiny_dataset, tmp_path, ctc_weight, refine_convs, weight_average):
    from platesearch.train import TrainConfig, train

    config = TrainConfig(
        name="tiny",
        architecture="platesearch-v1",
        channels=(4, 4, 4, 4),
        embedding_dim=8,
        epochs=1,
        steps_per_epoch=2,
        batch_size=4,
        synthetic_samples=4,
        real_augmentations=1,
        datasets=("tiny",),
        datasets_root=tiny_dataset.parent,
        validation_dataset="tiny",
        degradations=("frame", "polarity", "exposure", "blur", "downscale", "jpeg"),
        degradation_probability=0.5,
        hard_negatives=2,
        ctc_weight=ctc_weight,
        refine_convs=refine_convs,
        synthetic_layouts=("DDD", "LLLL"),
        weight_average=weight_average,
    )
    best = train(config, tmp_path / "run")
    synthetic = np.load(tmp_path / "run" / "data.npz")["train_plates"][-config.synthetic_samples :]
    assert all(p.isdigit() and len(p) == 3 or p.isalpha() and len(p) == 4 for p in synthetic), synthetic
    assert 0.0 <= best["val_top1"] <= 1.0
    assert (best["ctc"] > 0) == (ctc_weight > 0)
    for produced in (MODEL_FILE, MANIFEST_FILE, "training.png", "history.json"):
        assert (tmp_path / "run" / produced).is_file()
    embedder = PlateEmbedder(tmp_path / "run")
    assert embedder.embed(render_plate("AB123")[None]).shape == (1, 8)
    assert embedder.manifest.architecture == ("platesearch-v1+refine1" if refine_convs else "platesearch-v1")


def test_a_finished_run_given_more_epochs_keeps_its_model_when_none_is_better(tmp_path):
    from platesearch.train import TrainConfig, export

    config = TrainConfig(
        name="x", architecture="platesearch-v1", channels=(4,), epochs=1, steps_per_epoch=1, batch_size=2
    )
    (tmp_path / MODEL_FILE).write_bytes(b"the model exported before")
    export(tmp_path, config, {}, {"epoch": 1, "val_top1": 0.5}, total_minutes=1.0)
    assert (tmp_path / MODEL_FILE).read_bytes() == b"the model exported before"
    (tmp_path / "best.keras").write_bytes(b"a better epoch")
    export(tmp_path, config, {}, {"epoch": 2, "val_top1": 0.6}, total_minutes=1.0)
    assert (tmp_path / MODEL_FILE).read_bytes() == b"a better epoch"
    assert not (tmp_path / "best.keras").exists()


def test_averaged_weights_are_swapped_in_and_back_even_on_error():
    import keras

    from platesearch.train import _weights_swapped

    weight, average = keras.Variable(np.ones(3, np.float32)), keras.Variable(np.zeros(3, np.float32))
    with pytest.raises(RuntimeError), _weights_swapped([weight], [average]):
        assert np.all(weight.numpy() == 0)
        raise RuntimeError("validation failed")
    assert np.all(weight.numpy() == 1)
    assert np.all(average.numpy() == 0)


def test_native_stderr_is_held_back_unless_loading_fails(capfd):
    from platesearch.runtime import quiet_native_stderr

    with quiet_native_stderr():
        os.write(2, b"start-up chatter\n")
    assert "start-up chatter" not in capfd.readouterr().err
    with pytest.raises(RuntimeError), quiet_native_stderr():
        os.write(2, b"why it failed\n")
        raise RuntimeError("load failed")
    assert "why it failed" in capfd.readouterr().err


def test_near_misses_are_one_or_two_characters_away_and_keep_letters_and_digits():
    from platesearch.train import hard_negative_renders, near_miss

    rng = np.random.default_rng(0)
    for _ in range(200):
        miss = near_miss("ABC1234", rng)
        changed = [(a, b) for a, b in zip("ABC1234", miss, strict=True) if a != b]
        assert 1 <= len(changed) <= 2
        assert all(a.isdigit() == b.isdigit() for a, b in changed)
    renders = hard_negative_renders(["ABC1234", "XYZ987"], 2, rng)
    assert renders.shape[0] in (1, 2) and renders.shape[1:] == (64, 512)


def test_ctc_labels_index_the_alphabet_and_leave_out_other_characters():
    from platesearch.train import CTC_ALPHABET, ctc_labels

    labels, lengths = ctc_labels(["AB12", "川A9"])
    assert lengths.tolist() == [4, 2]
    assert [CTC_ALPHABET[i] for i in labels[0, :4]] == list("AB12")
    assert [CTC_ALPHABET[i] for i in labels[1, :2]] == list("A9")
    assert labels.shape[1] >= 12


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("degradations", ("fog",), "unknown degradation"),
        ("synthetic_layouts", (), "synthetic_layouts"),
        ("synthetic_layouts", ("LLD", "LLQ"), "use one of LDX"),
        ("synthetic_layouts", ("",), "use one of LDX"),
    ],
)
def test_train_config_rejects_unknown_degradations_and_layouts(field, value, message):
    from pydantic import ValidationError

    from platesearch.train import TrainConfig

    with pytest.raises(ValidationError, match=message):
        TrainConfig(
            name="x",
            architecture="platesearch-v1",
            channels=(4,),
            epochs=1,
            steps_per_epoch=1,
            batch_size=2,
            **{field: value},
        )


def test_synthetic_texts_follow_their_layouts():
    from platesearch.synth import random_plate_text

    rng = np.random.default_rng(0)
    texts = {random_plate_text(rng, ("DDD", "LX")) for _ in range(200)}
    assert {len(t) for t in texts} == {2, 3}
    assert all(t.isdigit() for t in texts if len(t) == 3)
    assert all(t[0].isalpha() for t in texts if len(t) == 2)
    assert any(t[1].isdigit() for t in texts if len(t) == 2) and any(t[1].isalpha() for t in texts if len(t) == 2)


@pytest.mark.parametrize(
    "config", sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_experiment_config_is_a_valid_training_run(config):
    from platesearch.train import TrainConfig

    loaded = TrainConfig.load(config)
    assert loaded.epochs > 0 and (loaded.ctc_weight == 0 or loaded.architecture == "platesearch-v1")


def test_the_lite_runtime_embeds_as_keras_does(sample):
    """The server's query path (TensorFlow Lite, converted at load) against Keras, on renders and real crops."""
    keras_embedder, lite_embedder = default_embedder(), PlateEmbedder(runtime="lite")
    crops = [binarize(read_image(path)) for path in sorted((sample / "crops" / "images").iterdir())[:3]]
    images = np.stack([render_plate("AA5149EK"), render_plate("7ABC123"), *crops])
    expected, found = keras_embedder.embed(images), lite_embedder.embed(images)
    assert found.shape == expected.shape and found.dtype == np.float32
    assert np.abs(found - expected).max() < 1e-4
    assert lite_embedder.model_id == keras_embedder.model_id
    with pytest.raises(ValueError, match="unknown model runtime"):
        PlateEmbedder(runtime="onnx")


def test_refine_convs_add_stride_one_convolutions_and_keep_the_feature_grid():
    from platesearch.train import TrainConfig, build_autoencoder

    def convolutions(refine_convs: int) -> list[tuple]:
        config = TrainConfig(
            name="tiny", architecture="platesearch-v1", channels=(4, 4, 4, 4), embedding_dim=8, epochs=1,
            steps_per_epoch=1, batch_size=2, refine_convs=refine_convs,
        )  # fmt: skip
        autoencoder, _ = build_autoencoder(config)
        encoder = autoencoder.get_layer("encoder")
        assert encoder.output.shape[-1] == 8 and autoencoder.output["reconstruction"].shape[1:] == (64, 512, 1)
        return [
            (layer.strides, layer.output.shape[1:3])
            for layer in encoder.layers
            if getattr(layer, "kernel_size", None) == (3, 3)
        ]

    plain, refined = convolutions(0), convolutions(2)
    assert [s for s, _ in plain] == [(2, 2), (2, 2), (2, 2), (2, 1)]
    assert [s for s, _ in refined] == [(2, 2), (2, 2), (2, 2), (1, 1), (2, 1), (1, 1)]
    assert plain[-1][1] == refined[-1][1] == (4, 64)  # a column per 1/64 of the plate either way
    with pytest.raises(ValueError, match="there are 4 blocks"):
        convolutions(5)
