"""The embedding model, inference side: load the shipped autoencoder and embed plate images.

The model is a convolutional autoencoder trained real crop -> synthetic render; its
bottleneck is the embedding. Binarized real crops and renders of query text go through the
same encoder, and cosine similarity of the L2-normalized embeddings ranks photos. This
module imports no training code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from platesearch.config import CANVAS_HEIGHT, CANVAS_WIDTH, PACKAGE_DIR
from platesearch.io import file_sha256

# Bump when binarize/render/canvas change what the model sees: embeddings made with another
# preprocessing version are not comparable, and indexes record the version they used.
PREPROCESSING_VERSION = "binarize-v2"  # v2: local-threshold fallback (issue #13)
DEFAULT_MODEL_DIR = PACKAGE_DIR / "weights"
MODEL_FILE = "autoencoder.keras"
MANIFEST_FILE = "manifest.json"
ENCODER_NAME = "encoder"  # the nested encoder model inside the saved autoencoder


class ModelError(RuntimeError):
    """The model files are missing, do not match their manifest, or cannot be loaded."""


def _load_triton_before_tensorflow() -> None:
    """Import triton (torch's kernel compiler) first if it is installed.

    EasyOCR's torch imports triton lazily; importing triton's native modules after
    TensorFlow has loaded its own crashes the process (segfault, measured with torch 2.14 and
    TensorFlow 2.21). Loaded first, both live together; it costs about 0.3 s. If the caller
    imported TensorFlow already, importing triton now would crash: it is left out, and
    `localize.get_reader` refuses with a clear error instead of crashing later.
    """
    if "tensorflow" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hold back what native code writes to stderr meanwhile; replay it if the block fails.

    TensorFlow 2.21 logs its start-up (oneDNN, CPU features, CUDA probing on a machine
    without a GPU) from C++ before TF_CPP_MIN_LOG_LEVEL takes effect: a dozen lines on
    every command. They say nothing when loading works, and are shown when it does not.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def configure_threads(threads: int | None = None) -> int:
    """Give TensorFlow a fixed thread budget (default: all cores, or $PLATESEARCH_THREADS).

    TensorFlow and torch (EasyOCR) each default to a pool per core; left alone in one
    process they oversubscribe a small machine badly.
    """
    _load_triton_before_tensorflow()
    with quiet_native_stderr():
        import tensorflow as tf

    threads = threads or int(os.environ.get("PLATESEARCH_THREADS", 0)) or os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already started: its pools are fixed for this process
    return threads


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 64, 512] black-on-white images as float32 [n, 64, 512, 1] ink maps (ink = 1)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.shape[1:] != (CANVAS_HEIGHT, CANVAS_WIDTH):
        raise ValueError(f"expected images of shape (n, {CANVAS_HEIGHT}, {CANVAS_WIDTH}), got {images.shape}")
    return (1.0 - images.astype(np.float32) / 255.0)[..., None]


@dataclass(frozen=True)
class ModelManifest:
    architecture: str
    embedding_dim: int
    preprocessing_version: str
    sha256: str
    training: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> ModelManifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            **{k: data[k] for k in ("architecture", "embedding_dim", "preprocessing_version", "sha256", "training")}
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")


class PlateEmbedder:
    """Embeds binarized crops and renders alike: float32 [n, d], unit L2 norm."""

    def __init__(self, model_dir: Path | str = DEFAULT_MODEL_DIR, batch_size: int = 64) -> None:
        model_dir = Path(model_dir)
        model_path, manifest_path = model_dir / MODEL_FILE, model_dir / MANIFEST_FILE
        if not model_path.is_file() or not manifest_path.is_file():
            raise ModelError(f"no model in {model_dir}: expected {MODEL_FILE} and {MANIFEST_FILE}")
        self.manifest = ModelManifest.read(manifest_path)
        actual = file_sha256(model_path)
        if actual != self.manifest.sha256:
            raise ModelError(
                f"{model_path} does not match its manifest (sha256 {actual[:12]}..., manifest says "
                f"{self.manifest.sha256[:12]}...): refusing to load weights of unknown origin"
            )
        configure_threads()
        with quiet_native_stderr():
            import keras

            autoencoder = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        self.encoder = autoencoder.get_layer(ENCODER_NAME)
        self.batch_size = batch_size
        self.dim = int(self.encoder.output.shape[-1])
        if self.dim != self.manifest.embedding_dim:
            raise ModelError(f"model embeds in {self.dim} dimensions, manifest says {self.manifest.embedding_dim}")

    @property
    def model_id(self) -> str:
        """What an index records to refuse embeddings from another model."""
        return self.manifest.sha256

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of uint8 [n, 64, 512] black-on-white images, L2-normalized."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return encode(self.encoder, images, self.batch_size)


def encode(encoder, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Run a Keras encoder over uint8 [n, 64, 512] images in batches; L2-normalized float32 [n, d].

    predict_on_batch runs Keras's compiled predict function: one query image takes 2.4 ms
    where an eager call takes 12 ms (measured on 2 cores), most of a query's latency.
    """
    inputs = to_model_input(images)
    batches = [encoder.predict_on_batch(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    return l2_normalize(np.concatenate(batches))


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@cache
def default_embedder() -> PlateEmbedder:
    """The shipped model, loaded once per process."""
    return PlateEmbedder()
