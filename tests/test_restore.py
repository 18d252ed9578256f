"""Photo restoration: horizontally smeared photos found and deconvolved, every other photo
passed through untouched."""

import cv2
import numpy as np
import pytest

from platesearch import restore
from platesearch.binarize import to_gray


@pytest.fixture(scope="module")
def text_photo() -> np.ndarray:
    """A sharp light photo full of dark text lines of several sizes."""
    rng = np.random.default_rng(0)
    photo = np.full((360, 640, 3), 200, np.uint8)
    for _ in range(60):
        x, y = int(rng.integers(0, 560)), int(rng.integers(20, 350))
        text = "".join(rng.choice(list("ABC123XYZ789"), 6))
        cv2.putText(photo, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.4, 1.2)), (30, 30, 30), 2)
    return photo


def smeared(photo: np.ndarray, length: int, vertical: bool = False) -> np.ndarray:
    box = np.ones((1, length), np.float32) / length
    return cv2.filter2D(photo, -1, box.T if vertical else box)


def test_a_sharp_photo_is_not_taken_as_smeared_and_passes_through(text_photo):
    assert restore.motion_blur_length(text_photo) is None
    views = restore.detection_views(text_photo)
    assert len(views.looks) == 1 and views.looks[0] is text_photo and not views.keep_weak


def test_a_vertical_smear_is_not_taken_for_motion_along_the_road(text_photo):
    assert restore.motion_blur_length(smeared(text_photo, 11, vertical=True)) is None


@pytest.mark.parametrize("length", [9, 11])
def test_a_horizontal_smear_is_measured_and_deconvolved(text_photo, length):
    blurred = smeared(text_photo, length)
    measured = restore.motion_blur_length(blurred)
    assert measured in (length - 2, length - 1, length)
    views = restore.detection_views(blurred)
    assert views.keep_weak  # a zoom does not sharpen a smear
    restored, second_look = views.looks
    assert restored.shape == blurred.shape and restored.dtype == np.uint8
    assert np.array_equal(restored, restore.deconvolved(blurred, measured))
    # the second look: deconvolved SECOND_LOOK_SHORTER px shorter, so another image
    shorter = restore.deconvolved(blurred, measured - restore.SECOND_LOOK_SHORTER)
    assert np.array_equal(second_look, shorter) and not np.array_equal(second_look, restored)

    def error(image: np.ndarray) -> float:
        return float(np.abs(image.astype(np.float32) - text_photo).mean())

    assert error(restored) < 0.92 * error(blurred)  # closer to the sharp photo, and not shifted off it
    assert restore.motion_blur_length(to_gray(blurred)) == restore.motion_blur_length(blurred)
    assert all(view.ndim == 2 for view in restore.detection_views(to_gray(blurred)).looks)  # grayscale stays grayscale


def test_a_photo_too_small_to_measure_passes_through():
    tiny = np.zeros((20, 20, 3), np.uint8)
    assert restore.motion_blur_length(tiny) is None
    [view] = restore.detection_views(tiny).looks
    assert view is tiny


def test_the_first_minimum_is_where_the_autocorrelation_first_stops_falling():
    # a rotated, defocused smear: a shallow first minimum at lag 6, a lower tail further out
    curve = np.array(
        [1.0, 0.7, 0.5, 0.3, 0.1, -0.05, -0.08, -0.07, -0.08, -0.1, -0.11, -0.12, -0.12, -0.13, -0.14, -0.1]
    )
    assert restore._first_minimum(curve) == 6
    assert restore._first_minimum(np.linspace(1.0, -1.0, restore.MAX_BLUR + 1)) == restore.MAX_BLUR  # never stops


def test_the_smear_length_is_where_the_fall_to_the_first_minimum_levels_off():
    # a smear 10 px long: a steady fall to lag 9, then a shallow tail to a first minimum at 13
    curve = np.array(
        [1.0, 0.84, 0.71, 0.57, 0.43, 0.28, 0.14, -0.01, -0.11, -0.2, -0.23, -0.25, -0.27, -0.28, -0.27, -0.26]
    )
    assert restore._first_minimum(curve) == 13
    assert restore._plateau_start(curve) == 10  # the first lag within 5 % of the fall (-0.216)
    steady = np.linspace(1.0, -1.0, restore.MAX_BLUR + 1)  # never levels off: its lowest lag
    assert restore._plateau_start(steady) == restore.MAX_BLUR


@pytest.mark.parametrize("length", [7, 9])
def test_the_smear_length_is_read_from_the_text_not_from_a_soft_background(length):
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.uniform(0, 255, (720, 1280)).astype(np.float32), (0, 0), 8)
    photo = cv2.cvtColor(cv2.normalize(background, None, 40, 220, cv2.NORM_MINMAX).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    cv2.rectangle(photo, (540, 330), (740, 380), (235, 235, 235), -1)  # one small sign
    cv2.putText(photo, "ABC 123", (550, 368), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2)
    blurred = smeared(photo, length)
    along_x, _ = restore._autocorrelations(blurred)
    assert restore._first_minimum(along_x) - 1 >= length + 3  # the whole photo: drawn out by the background
    assert restore.motion_blur_length(blurred) == restore.smear_length(blurred) in (length - 2, length - 1, length)
    assert np.array_equal(
        restore.detection_views(blurred).looks[0], restore.deconvolved(blurred, restore.smear_length(blurred))
    )


def test_a_photo_perhaps_smeared_is_looked_at_as_it_is_then_deconvolved(text_photo):
    lightly = smeared(text_photo, 5)  # smeared less than the rule takes for sure
    assert restore.motion_blur_length(lightly) is None
    views = restore.detection_views(lightly)
    assert views.keep_weak  # smeared a little, as a zoom does not sharpen either
    as_it_is, second_look = views.looks
    assert as_it_is is lightly  # cut and read as it is
    measured = restore.smear_length(lightly)
    assert np.array_equal(second_look, restore.deconvolved(lightly, measured))


def defocused(photo: np.ndarray, radius: float) -> np.ndarray:
    return cv2.filter2D(photo, -1, restore.disk(radius))


def test_a_photo_out_of_focus_is_deconvolved_at_its_radius_and_a_wider_one_then_seen_as_it_is(text_photo):
    soft = defocused(text_photo, 2.5)
    assert restore.motion_blur_length(soft) is None  # not smeared: the same in every direction
    views = restore.detection_views(soft)
    assert views.keep_weak  # a zoom does not sharpen a blur either
    refocused, second_look, as_it_is = views.looks
    assert as_it_is is soft
    focus, radius = restore._defocus_of(*restore._autocorrelations(soft))
    assert focus > restore.DEFOCUS_ABOVE and restore.MIN_RADIUS <= radius <= restore.MAX_RADIUS
    assert np.array_equal(refocused, restore.refocused(soft, radius))
    assert np.array_equal(second_look, restore.refocused(soft, radius + restore.DEFOCUS_SECOND_LOOK_WIDER))
    assert refocused.shape == soft.shape and refocused.dtype == np.uint8

    def error(image: np.ndarray) -> float:
        return float(np.abs(image.astype(np.float32) - text_photo).mean())

    assert error(restore.refocused(soft, 2.5)) < 0.9 * error(soft)  # sharper, and not shifted off the photo
    assert all(view.ndim == 2 for view in restore.detection_views(to_gray(soft)).looks)


def test_the_blur_radius_is_read_where_the_autocorrelation_turns_negative():
    falling = np.array([1.0, 0.8, 0.5, 0.2, -0.1, -0.2] + [-0.1] * 10)
    a, b = restore.DEFOCUS_RADIUS_AT
    focus, radius = restore._defocus_of(falling, falling)
    assert focus == 0.5 and radius == a + b * 4
    never = np.linspace(1.0, 0.1, 16)
    assert restore._defocus_of(never, never)[1] == restore.MAX_RADIUS
    late = np.array([1.0, 0.9, 0.8, 0.6, 0.4, 0.2, 0.1, -0.1] + [-0.1] * 8)  # turns negative at lag 7
    assert restore._defocus_of(late, late)[1] == restore.MAX_RADIUS < a + b * 7  # capped below the line
