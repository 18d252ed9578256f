"""OCR-text similarity: how close a recognized string is to the query, 0..1."""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist


def text_similarity(query: str, recognized: str | None) -> float:
    """1 - normalized edit distance between the query and an OCR reading (0 for no reading)."""
    if not recognized:
        return 0.0
    return float(Levenshtein.normalized_similarity(query, recognized))


def text_similarities(query: str, readings: list[str]) -> np.ndarray:
    """text_similarity of the query with each of many readings, in one vectorized call."""
    if not readings:
        return np.zeros(0, np.float32)
    return cdist([query], readings, scorer=Levenshtein.normalized_similarity, dtype=np.float32)[0]
