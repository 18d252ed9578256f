"""Fusion of embedding and readings, on constructed cases (no model, no TensorFlow)."""

import numpy as np
import pytest

from platesearch.scoring import DEFAULT_OCR_WEIGHT, EXACT, hybrid_scores


def test_an_exact_reading_beats_any_cosine_without_one():
    # crop 0: the embedding's favourite, misread; crop 1: far in the embedding, read exactly
    scores = hybrid_scores(np.array([0.99, 0.05]), np.array([0.8, 1.0]), "AB1234")
    assert scores[1] > scores[0]


def test_without_exact_readings_the_weighted_sum_orders():
    scores = hybrid_scores(np.array([0.9, 0.5]), np.array([0.5, 0.7]), "AB1234", ocr_weight=0.5)
    assert scores[0] > scores[1]  # 0.70 against 0.60
    scores = hybrid_scores(np.array([0.9, 0.5]), np.array([0.5, 0.7]), "AB1234", ocr_weight=0.9)
    assert scores[1] > scores[0]


def test_short_queries_get_no_exact_tier():
    scores = hybrid_scores(np.array([0.9, 0.1]), np.array([0.5, 1.0]), "AB1", ocr_weight=0.5)
    assert scores[0] > scores[1] and scores.max() <= 0.5  # the same readings for "AB1234" would put crop 1 first
    assert hybrid_scores(np.array([0.9, 0.1]), np.array([0.5, 1.0]), "AB1234", ocr_weight=0.5)[1] > 0.5


def test_scores_stay_within_zero_and_one():
    cos = np.array([-0.5, 0.0, 1.0, 1.0])
    read = np.array([0.0, EXACT, 1.0, 0.2])
    scores = hybrid_scores(cos, read, "AB1234", DEFAULT_OCR_WEIGHT)
    assert scores.min() >= 0.0 and scores.max() <= 1.0


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_bad_weights_are_refused(weight):
    with pytest.raises(ValueError, match="ocr_weight"):
        hybrid_scores(np.array([0.5]), np.array([0.5]), "AB1234", weight)
