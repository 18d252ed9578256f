"""Plate text read by EasyOCR's recognizer fine-tuned on degraded plate text.

A photo smeared by motion is deconvolved before it is localized (restore.py), but its plates
then show ringing and leftover smear: EasyOCR's own recognizer reads most of them 1-3
characters off where a person reads them. The same network, fine-tuned on plate crops smeared
and deconvolved the same way (`experiments/smeared_reader.py`, which reproduces the shipped
weights), reads each candidate once more, as one line; its reading is added to the
candidate's, never put in their place. It reads every photo's candidates, not only smeared
ones, and every crop file of `index --crops`: trained on degraded plates, it also reads dark
and small sharp plates EasyOCR misses.

A second fine-tuning of the same network, on crops as the pipeline reads them in any photo
(sharp, lightly smeared and read as they are, out of focus; `--conditions as-read`), reads
every photo's candidates beside it: each reads plates exactly that the other misses
(RESULTS.md §0, "A reader trained on crops as they are read" and "Both readers, built").
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from platesearch.binarize import to_gray
from platesearch.config import PACKAGE_DIR, plate_rules
from platesearch.media import file_sha256

WEIGHTS = PACKAGE_DIR / "weights" / "smeared_text_recognizer.pt"
MANIFEST = PACKAGE_DIR / "weights" / "smeared_text_recognizer.json"
AS_READ_WEIGHTS = PACKAGE_DIR / "weights" / "as_read_text_recognizer.pt"
AS_READ_MANIFEST = PACKAGE_DIR / "weights" / "as_read_text_recognizer.json"
LINE_HEIGHT, LINE_WIDTH = 64, 256  # the recognizer's input: height fixed, ratio kept, padded right to this
MIN_HEIGHT = 64  # crops are enlarged to this height first, as read_crop enlarges them (localize.READ_MIN_HEIGHT)
NETWORK = {"input_channel": 1, "output_channel": 256, "hidden_size": 256}  # EasyOCR's english_g2 ("generation2")


def prepared_line(crop: np.ndarray) -> np.ndarray:
    """A BGR or gray crop as the recognizer takes it: gray, at least MIN_HEIGHT on the way, then
    LINE_HEIGHT high with its ratio kept (at most LINE_WIDTH wide), right-padded with its last
    column, scaled to -1..1 (EasyOCR's AlignCollate). Training and reading share it."""
    gray = to_gray(crop)
    if gray.shape[0] < MIN_HEIGHT:
        scale = MIN_HEIGHT / gray.shape[0]
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    h, w = gray.shape
    width = max(1, min(LINE_WIDTH, math.ceil(LINE_HEIGHT * w / h)))
    line = cv2.resize(gray, (width, LINE_HEIGHT), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 127.5 - 1.0
    padded = np.repeat(line[:, -1:], LINE_WIDTH, axis=1)
    padded[:, :width] = line
    return padded


def allowed_classes(characters: list[str]) -> np.ndarray:
    """Which of the recognizer's classes a plate may hold: CTC's blank and the plate alphabet."""
    alphabet = plate_rules().alphabet
    return np.array([i == 0 or c in alphabet for i, c in enumerate(characters)])


def greedy_decode(logits: np.ndarray, characters: list[str], allowed: np.ndarray) -> list[str]:
    """CTC best path of [batch, steps, classes] logits over the allowed classes: repeats merged, blanks dropped."""
    best = np.where(allowed, logits, -np.inf).argmax(axis=2)
    texts = []
    for path in best:
        kept = [int(c) for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
        texts.append("".join(characters[c] for c in kept))
    return texts


class SmearedTextReader:
    """The fine-tuned recognizer, on the CPU, weights checked against their manifest."""

    def __init__(self, weights: Path = WEIGHTS, manifest: Path = MANIFEST) -> None:
        import torch
        from easyocr.model.vgg_model import Model

        from platesearch.localize import get_reader, recognizer_in
        from platesearch.runtime import detector_precision

        expected = json.loads(manifest.read_text())["sha256"]
        if file_sha256(weights) != expected:
            raise RuntimeError(f"{weights} does not match {manifest.name}: refusing weights of unknown origin")
        self.characters = list(get_reader().converter.character)  # the base recognizer's classes, blank first
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = Model(num_class=len(self.characters), **NETWORK)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        self.model = recognizer_in(model.eval(), detector_precision())
        self.allowed = allowed_classes(self.characters)

    def read(self, crops: list[np.ndarray]) -> list[str]:
        """Each crop read as one line, in the plate alphabet."""
        if not crops:
            return []
        import torch

        lines = torch.from_numpy(np.stack([prepared_line(c) for c in crops])[:, None])
        with torch.inference_mode():
            logits = self.model(lines, None).float().numpy()
        return greedy_decode(logits, self.characters, self.allowed)


@cache
def smeared_text_reader() -> SmearedTextReader:
    """The reader fine-tuned on smeared text, one per process: it alone reads crop files."""
    return SmearedTextReader()


@cache
def fine_tuned_readers() -> tuple[SmearedTextReader, ...]:
    """The readers of every photo's candidates, one each per process: the smeared-text reader,
    then the one fine-tuned on crops as they are read."""
    return smeared_text_reader(), SmearedTextReader(AS_READ_WEIGHTS, AS_READ_MANIFEST)
