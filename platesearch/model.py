"""The embedding model, inference side: load the shipped autoencoder and embed plate images.

The model is a convolutional autoencoder trained real crop -> synthetic render; its
bottleneck is the embedding. Binarized real crops and renders of query text go through the
same encoder, and cosine similarity of the L2-normalized embeddings ranks photos. This
module imports no training code.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from platesearch.config import CANVAS_HEIGHT, CANVAS_WIDTH, PACKAGE_DIR
from platesearch.media import file_sha256
from platesearch.runtime import configure_tensorflow, quiet_native_stderr, thread_budget

# Bump when binarize/render/canvas change what the model sees: embeddings made with another
# preprocessing version are not comparable, and indexes record the version they used.
PREPROCESSING_VERSION = "binarize-v4"  # v2: local-threshold fallback; v3: end emblems dropped; v4: characters touching print kept (issue #13)
DEFAULT_MODEL_DIR = PACKAGE_DIR / "weights"
MODEL_FILE = "autoencoder.keras"
MANIFEST_FILE = "manifest.json"
ENCODER_NAME = "encoder"  # the nested encoder model inside the saved autoencoder
RUNTIMES = ("keras", "lite")


class ModelError(RuntimeError):
    """The model files are missing, do not match their manifest, or cannot be loaded."""


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
    architecture: str  # TrainConfig.architecture, "+refineN" when trained with refine_convs N
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

    def __init__(self, model_dir: Path | str = DEFAULT_MODEL_DIR, batch_size: int = 64, runtime: str = "keras") -> None:
        """runtime: "keras", or "lite" (the same weights converted for TensorFlow Lite at load,
        about 1.5 s: a single query image in 2.5 ms of CPU where Keras takes 7; for a server)."""
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown model runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
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
        configure_tensorflow()
        with quiet_native_stderr():
            import keras

            autoencoder = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        self.encoder = autoencoder.get_layer(ENCODER_NAME)
        self.batch_size = batch_size
        self.dim = int(self.encoder.output.shape[-1])
        if self.dim != self.manifest.embedding_dim:
            raise ModelError(f"model embeds in {self.dim} dimensions, manifest says {self.manifest.embedding_dim}")
        self._lite = LiteEncoder(self.encoder) if runtime == "lite" else None

    @property
    def model_id(self) -> str:
        """What an index records to refuse embeddings from another model."""
        return self.manifest.sha256

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of uint8 [n, 64, 512] black-on-white images, L2-normalized."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._lite is not None:
            return l2_normalize(np.concatenate([self._lite(image[None]) for image in to_model_input(images)]))
        return encode(self.encoder, images, self.batch_size)


class LiteEncoder:
    """A Keras encoder converted for TensorFlow Lite (XNNPACK kernels), one image per call.

    Same weights, same float32 arithmetic up to rounding (embeddings within 1e-5 of Keras's,
    tests/test_model.py); Keras's per-call overhead and its pool's spinning threads are what it
    saves. Converted at load rather than shipped, so it can never disagree with the weights.
    """

    def __init__(self, encoder) -> None:
        import tensorflow as tf

        with quiet_native_stderr(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # tf.lite's notice that it moves to the LiteRT package
            # (stdout: Keras prints the temporary SavedModel it converts from)
            converted = tf.lite.TFLiteConverter.from_keras_model(encoder).convert()
            self.interpreter = tf.lite.Interpreter(model_content=converted, num_threads=thread_budget())
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, batch_of_one: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input, batch_of_one)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


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
