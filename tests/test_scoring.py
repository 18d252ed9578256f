"""Fusion of embedding and readings, on constructed cases (no model, no TensorFlow)."""

import numpy as np
import pytest

from platesearch.scoring import DEFAULT_OCR_WEIGHT, EXACT, SMALL_TEXT_HEIGHT, SMALL_TEXT_READING_FACTOR, hybrid_scores


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


def test_readings_of_small_text_weigh_less_and_exact_ones_still_come_first():
    cos, read = np.array([0.85, 0.74, 0.1]), np.array([0.67, 0.71, 1.0])
    tall = np.full(3, SMALL_TEXT_HEIGHT)
    small = tall - 1
    assert np.array_equal(hybrid_scores(cos, read, "RK867AD", text_heights=tall), hybrid_scores(cos, read, "RK867AD"))
    before, after = hybrid_scores(cos, read, "RK867AD"), hybrid_scores(cos, read, "RK867AD", text_heights=small)
    assert before[1] > before[0] and after[0] > after[1]  # the cosine's lead now decides
    assert after[2] > 0.5 and after.argmax() == 2  # an exact reading is first at any size
    weight = DEFAULT_OCR_WEIGHT * SMALL_TEXT_READING_FACTOR
    assert after[0] == pytest.approx(0.5 * ((1 - weight) * 0.85 + weight * 0.67))
