"""OCR-text similarity: how close a recognized string is to the query, 0..1."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein


def text_similarity(query: str, recognized: str | None) -> float:
    """1 - normalized edit distance between the query and an OCR reading (0 for no reading)."""
    if not recognized:
        return 0.0
    return float(Levenshtein.normalized_similarity(query, recognized))
