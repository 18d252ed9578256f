"""Camera degradations for training inputs, so the embedding holds on crops like real cameras give.

The held-back US crops the shipped model missed were dark, low-contrast, light-on-dark,
blurred, small or partly covered by a plate frame. Each family here imitates one of those on a
BGR (or grayscale) crop before it is binarized; training applies them at random
(`TrainConfig.degradations`), so an ablation can leave one family out by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def downscale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrink to 40-100 px wide and back: the detail a small plate in a large photo keeps."""
    h, w = image.shape[:2]
    width = int(rng.integers(40, 101))
    if width >= w:
        return image
    height = max(8, round(h * width / w))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def line_kernel(length: int, angle: float) -> np.ndarray:
    """A motion-blur kernel (not normalized): a `length`-px line through the centre of a
    length x length square, turned `angle` degrees from the horizontal."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    return cv2.warpAffine(kernel, rotation, (length, length))


def blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Motion blur along a random direction, or defocus (a disk), 1-4 % of the crop width."""
    w = image.shape[1]
    size = max(3, int(w * rng.uniform(0.01, 0.04)) | 1)
    if rng.random() < 0.5:
        kernel = line_kernel(size, rng.uniform(0, 180))
    else:
        kernel = np.zeros((size, size), np.float32)
        cv2.circle(kernel, (size // 2, size // 2), size // 2, 1.0, -1)
    return cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))


def exposure(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Low contrast and dark exposure: the range squeezed to 20-60 %, near black."""
    alpha = rng.uniform(0.2, 0.6)
    beta = rng.uniform(0, 40)
    return np.clip(image.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def polarity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light text on a dark plate (many BR and CN plates, infrared cameras)."""
    return 255 - image


def jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavy JPEG compression, quality 8-30."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(8, 31))])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else image


def frame(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plate holder's bar over the top or bottom 15-35 % of the crop, cutting into the text."""
    out = image.copy()
    h = image.shape[0]
    depth = max(1, int(h * rng.uniform(0.15, 0.35)))
    shade = int(rng.integers(0, 60)) if rng.random() < 0.6 else int(rng.integers(170, 256))
    rows = slice(0, depth) if rng.random() < 0.5 else slice(h - depth, h)
    out[rows] = shade
    return out


# Application order: the scene (frame, polarity, exposure), then the optics, sensor and codec.
DEGRADATIONS: dict[str, Degradation] = {
    "frame": frame,
    "polarity": polarity,
    "exposure": exposure,
    "blur": blur,
    "downscale": downscale,
    "jpeg": jpeg,
}


def check_families(families: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(families) - set(DEGRADATIONS))
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; known: {sorted(DEGRADATIONS)}")
    return tuple(families)


def degrade(image: np.ndarray, rng: np.random.Generator, families: Sequence[str], probability: float) -> np.ndarray:
    """Apply each named family independently with `probability`, in the fixed order above."""
    for name, apply in DEGRADATIONS.items():
        if name in families and rng.random() < probability:
            image = apply(image, rng)
    return image
