"""Camera degradations used in training: each changes the crop the way its name says."""

import numpy as np
import pytest

from platesearch.degrade import DEGRADATIONS, check_families, degrade
from platesearch.synth import synthetic_plate_photo


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    return synthetic_plate_photo("AB123CD", np.random.default_rng(0))


def test_every_family_keeps_shape_and_type_and_changes_the_crop(crop):
    for name, apply in DEGRADATIONS.items():
        out = apply(crop, np.random.default_rng(1))
        assert out.shape == crop.shape and out.dtype == np.uint8, name
        assert np.abs(out.astype(int) - crop).mean() > 0.5, f"{name} left the crop unchanged"


def test_families_do_what_they_say(crop):
    rng = np.random.default_rng(2)
    assert np.array_equal(DEGRADATIONS["polarity"](crop, rng), 255 - crop)
    dark = DEGRADATIONS["exposure"](crop, rng)
    assert dark.max() <= 0.6 * 255 + 40 and dark.std() < crop.std()
    framed = DEGRADATIONS["frame"](crop, rng)
    changed_rows = np.flatnonzero((framed != crop).any(axis=(1, 2)))
    assert changed_rows.size and (changed_rows[0] == 0 or changed_rows[-1] == crop.shape[0] - 1)
    # downscaling to <= 100 px wide and back loses fine detail: less high-frequency energy
    small = DEGRADATIONS["downscale"](crop, rng)
    assert np.abs(np.diff(small.astype(int), axis=1)).mean() < np.abs(np.diff(crop.astype(int), axis=1)).mean()


def test_degrade_applies_only_named_families_and_rejects_unknown_ones(crop):
    rng = np.random.default_rng(3)
    assert np.array_equal(degrade(crop, rng, (), 1.0), crop)
    assert np.array_equal(degrade(crop, rng, ("polarity",), 1.0), 255 - crop)
    assert np.array_equal(degrade(crop, rng, ("polarity",), 0.0), crop)
    with pytest.raises(ValueError, match="unknown degradation"):
        check_families(["polarity", "fog"])
