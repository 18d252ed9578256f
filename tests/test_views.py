"""A crop's views: the crop as given, trimmed and padded, and the mean of their embeddings."""

import numpy as np

from platesearch.binarize import binarize
from platesearch.localize import FRAMING_MARGINS
from platesearch.media import read_image
from platesearch.views import VIEWS, crop_views, mean_of_views


def test_a_photo_candidate_and_a_crop_file_have_the_same_number_of_views():
    """A photo's candidate is embedded as its crop and its binarized framings (localize)."""
    assert VIEWS == 1 + len(FRAMING_MARGINS)


def test_a_crop_is_seen_as_itself_tighter_and_wider(sample):
    crop = read_image(next((sample / "crops" / "images").iterdir()))
    views = crop_views(crop)
    assert len(views) == VIEWS and all(v.shape == (64, 512) and v.dtype == np.uint8 for v in views)
    assert np.array_equal(views[0], binarize(crop))
    assert not np.array_equal(views[1], views[0]) and not np.array_equal(views[2], views[0])


def test_a_crop_too_small_to_trim_is_still_seen_three_times():
    views = crop_views(np.full((3, 3, 3), 200, np.uint8))
    assert len(views) == VIEWS and all(v.shape == (64, 512) for v in views)


def test_each_crops_views_are_averaged_together_into_a_unit_vector():
    vectors = np.float32([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [-1, 0]])  # two crops' views in turn
    means = mean_of_views(vectors)
    assert np.allclose(means, [[2 / 5**0.5, 1 / 5**0.5], [-1 / 5**0.5, 2 / 5**0.5]])
