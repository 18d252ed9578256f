"""How a crop's embedding and readings combine into one score for a query (no TensorFlow needed).

hybrid = (1 - ocr_weight) * cosine + ocr_weight * reading similarity, halved into 0..0.5;
a crop with an exact reading of a plate of at least EXACT_MIN_LENGTH characters gets 0.5 on
top, so it ranks above every crop without one, whatever their cosine. "Exact" allows one
confusable character or one stray character at an end of the reading (similarity >= EXACT).
The weight is high because the shipped embedding does not yet hold on plates and cameras it
never saw (issue #13); on each set, the weight chosen without that set was 0.8 or 0.95. The weight was chosen
by leave-one-dataset-out measurement (experiments/RESULTS.md).
"""

from __future__ import annotations

import numpy as np

SEARCH_METHODS = ("embedding", "ocr", "hybrid")
DEFAULT_SEARCH_METHOD = "hybrid"
DEFAULT_OCR_WEIGHT = 0.8  # best mean top-1 over the 8 visible sets and stress variants (RESULTS.md §0)
EXACT_MIN_LENGTH = 4  # shorter queries are too easily read somewhere by chance
EXACT = 0.949


def hybrid_scores(
    cosines: np.ndarray, reading_similarities: np.ndarray, plate: str, ocr_weight: float = DEFAULT_OCR_WEIGHT
) -> np.ndarray:
    """Scores in 0..1 from each crop's cosine to the query render and its best reading's similarity."""
    if not 0.0 <= ocr_weight <= 1.0:
        raise ValueError(f"ocr_weight must be between 0 and 1, got {ocr_weight}")
    cosines = np.clip(np.asarray(cosines, np.float32), 0.0, 1.0)
    readings = np.asarray(reading_similarities, np.float32)
    fused = 0.5 * ((1.0 - ocr_weight) * cosines + ocr_weight * readings)
    exact = (readings >= EXACT) & (len(plate) >= EXACT_MIN_LENGTH)
    return fused + 0.5 * exact


def check_method(method: str) -> None:
    if method not in SEARCH_METHODS:
        raise ValueError(f"unknown search method {method!r}; choose from {', '.join(SEARCH_METHODS)}")
