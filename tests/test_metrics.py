"""Metrics on constructed rankings and boxes."""

from pathlib import Path

import numpy as np
import pytest

from platesearch.metrics import box_iou, embedding_retrieval, hit_ranks, rank_of_plate, summarize_ranks


def test_hit_ranks_with_several_photos_per_plate_and_absent_plates():
    rankings = [["B", "A", "A"], ["A", "B", "C"], ["B", "C", "D"]]
    assert hit_ranks(rankings, ["A", "A", "A"]) == [2, 1, None]


def test_summary_top_k_and_mrr():
    summary = summarize_ranks([1, 2, None, 4], ks=(1, 3))
    assert summary["top1"] == 0.25 and summary["top3"] == 0.5 and summary["queries"] == 4
    assert summary["mrr"] == pytest.approx((1 + 0.5 + 0.25) / 4)


def test_empty_summary():
    assert summarize_ranks([], ks=(1,))["top1"] == 0.0


def test_ties_count_against_the_query():
    query = np.array([[1.0, 0.0]])
    gallery = np.array([[1.0, 0.0], [1.0, 0.0]])  # the right and a wrong crop score the same
    assert embedding_retrieval(query, ["A"], gallery, ["A", "B"], ks=(1, 2))["top1"] == 0.0
    assert embedding_retrieval(query, ["A"], gallery, ["A", "B"], ks=(1, 2))["top2"] == 1.0


def test_a_photo_with_several_plates_is_a_hit_for_each():
    from platesearch.datasets import LabelledImage

    labelled = {"/p/a.jpg": [LabelledImage(Path("a.jpg"), "AB1234"), LabelledImage(Path("a.jpg"), "XY987")]}
    assert rank_of_plate(["/p/b.jpg", "/p/a.jpg"], "XY987", labelled) == 2
    assert rank_of_plate(["/p/a.jpg"], "AB1234", labelled) == 1
    assert rank_of_plate(["/p/b.jpg"], "AB1234", labelled) is None


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
