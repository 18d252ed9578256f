"""Photos restored before localization: a photo smeared by horizontal motion is deconvolved,
one perhaps smeared is also looked at deconvolved, and one out of focus is deconvolved (and
looked at as it is as well). The rules change only the photos they name; every other photo
passes through as the same object, so its candidates cannot change."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

from platesearch.binarize import to_gray

# Motion along the road (a passing car, a panning camera) smears each row over a few pixels:
# neighbouring horizontal derivatives then stay alike over the smear, vertical ones do not. A
# photo whose derivative autocorrelation at BLUR_LAG pixels is higher along x than along y by
# more than BLUR_ABOVE is taken as smeared (0.13-0.69 in us-on-cars-1280-blur, where the rule
# was made; at most 0.23 on any sharp photo of the other visible sets; 0.30-0.40 on 2, 2 and 1
# photos of the three defocused sets, made later, which it takes for smeared). It is
# deconvolved with a Wiener filter of a horizontal box of its smear length (noise-to-signal
# WIENER_NOISE) before everything else: detecting, cutting and reading it so found 27 and read 8
# of the set's first 40 plates, where the photos as they are gave 16 and 4 (RESULTS.md §0,
# "Smeared photos deconvolved"). The length is read from the photo's most textured
# TEXTURE_TILE-px tiles only (their TEXTURED_SHARE): a soft background, already blurred in every
# direction, drew the whole photo's autocorrelation out to 13-14 px. Within 1 px of the length
# drawn: 0.779 -> 0.885 of us-on-cars-1280-blur's photos (where tile and share were chosen),
# 0.752 -> 0.853 of the second blurred set's; default top-1 0.655 -> 0.714, 0.742 -> 0.733 and
# 0.625 -> 0.646 on the three blurred sets (RESULTS.md §0, "The smear length read where the
# photo has texture"). The length is where the tiles' horizontal autocorrelation levels off:
# the first lag from MIN_BLUR on within PLATEAU_WITHIN of its fall to its first minimum (the
# first lag where it stops falling; its lowest lag up to MAX_BLUR where it never does). A
# rotated, slightly defocused smear falls steadily to about its length, then often creeps down
# a shallow tail to a minimum a few pixels further out: the minimum less one, as read before,
# took 21 of the first blurred and first lightly blurred sets' 168 photos taken or perhaps
# smeared 2 px or more too long, the level 13 (within 1 px: 0.851 -> 0.887 there, where
# PLATEAU_WITHIN was chosen, 0.819 -> 0.890 on the second and third sets). Default top-1 on the
# six blurred sets +13 / -3 queries of 670 (RESULTS.md §0, "The smear length read where its fall
# levels off").
BLUR_LAG = 3
BLUR_ABOVE = 0.25
MIN_BLUR, MAX_BLUR = 3, 15
PLATEAU_WITHIN = 0.05
WIENER_NOISE = 0.02
# The detector finds a smeared plate in one deconvolution and not in another a pixel or two
# apart, and the drawn length is no better (deconvolved at it less one, 23 of the first 40
# photos' 34 smeared plates were found, at the measured length 24). A smeared photo is also
# detected deconvolved this many pixels shorter, and what either finds is cut and read from
# the first: plates found 60 -> 65 of the 96 photos of
# us-on-cars-1280-blur taken as smeared (1 and 3 px shorter gave 65 and 66; chosen on its first
# 40 photos, 24 -> 27 of 34). Through the whole pipeline, with the second look on a smaller
# canvas (localize.SECOND_LOOK_CANVAS), plates found 0.592 -> 0.625 there and 0.650 -> 0.692 on
# us-on-cars-1280-blur-2, made after it; default top-1 0.538 -> 0.546 and 0.583 -> 0.608.
# RESULTS.md §0, "A second look at a smeared photo".
SECOND_LOOK_SHORTER = 2
# Between this and BLUR_ABOVE a photo may be smeared or sharp (the first blurred set has 17
# photos there, the other visible sets 14: 3 of us-on-cars-1280, 2 of us-on-cars-1280-b, 1 of
# us-on-cars-1280-night-2, 1 of br-in-1920, 1 EU, 1 BR, 5 CN; none of them above). It is
# detected, cut and read as it is, and looked at a second time deconvolved: the first blurred
# set's 17 plates there found 7 -> 11, the other sets' 14 stay found; through the pipeline the
# blurred sets' default top-1 0.571 -> 0.605 and 0.658 -> 0.675, and no query of the seven
# other sets moved. RESULTS.md §0, "A second look at a smeared photo". Its weak boxes are kept,
# as a smeared photo's: plates found 0.942 -> 0.967 on the lightly blurred set it was designed
# on (3-5 px; a quarter of its photos here), 0.950 -> 0.958 and 0.906 -> 0.917 on the others,
# 0.817 -> 0.833, 0.850 -> 0.875 and 0.750 -> 0.771 on the blurred sets; default top-1 +5 / -2
# queries over the six sets; no other set's default or plates found moved (RESULTS.md §0,
# "Weak boxes kept in a photo perhaps smeared").
PERHAPS_SMEARED_ABOVE = 0.15
# Out of focus, a photo's derivatives stay alike over a few pixels in every direction. A photo
# not smeared whose derivative autocorrelation at DEFOCUS_LAG pixels is above DEFOCUS_ABOVE along
# both x and y is taken as out of focus (93 of the 120 frames of us-on-cars-1280-defocus, a disk
# blur of radius 1.5-3 px, where the rule was made; 1 photo of openalpr-br and 1 of easypr-cn
# among every sharp visible photo). Its blur radius is read from the first lag where the mean
# of the two autocorrelations turns negative (DEFOCUS_RADIUS_AT: 1 + 0.28 px a lag, fitted to
# that set's drawn radii), at most MAX_RADIUS (at a lag of 7 or more, the first set's 21 such
# photos were drawn at 2.45-2.68 px on average, lag by lag, not the 2.96-3.5 the line gives;
# capped so, the two sets' default top-1 0.950 -> 0.958 and 0.908 -> 0.942: RESULTS.md §0,
# "The blur radius capped"). It is deconvolved with a Wiener filter of that disk, then looked
# at again DEFOCUS_SECOND_LOOK_WIDER px wider: those 93 photos' plates were found 76 -> 90 times
# (RESULTS.md §0, "Photos out of focus"). A radius that does not fit a plate rings its letters
# into garble, so the photo is looked at a third time as it is, and its cuts are read too: the
# two defocused sets' default top-1 0.891 -> 0.950 (designed on) and 0.892 -> 0.908
# (RESULTS.md §0, "A photo out of focus also read as it is"). Its weak boxes are kept, as a
# smeared photo's: plates found 0.983 -> 1.000 on the first set, 0.958 -> 0.979 on the third
# (made after every rule, not looked at), default top-1 0.958 -> 0.966 and 0.896 -> 0.917,
# median candidates 3 -> 5-6 (RESULTS.md §0, "Weak boxes kept in a photo out of focus").
DEFOCUS_LAG = 2
DEFOCUS_ABOVE = 0.3
DEFOCUS_RADIUS_AT = (1.0, 0.28)  # radius = a + b * the lag where the autocorrelation turns negative
MIN_RADIUS, MAX_RADIUS = 1.0, 2.7
DEFOCUS_SECOND_LOOK_WIDER = 0.5
MAX_ROWS = 256  # the autocorrelations pool at most about this many evenly spaced rows (columns)
TEXTURE_TILE, TEXTURED_SHARE, MIN_TEXTURED_TILES = 32, 0.1, 8


def _derivative_autocorrelation(rows: np.ndarray) -> np.ndarray:
    """The autocorrelation of the rows' derivative at lags 0..MAX_BLUR, pooled over rows, 1 at lag 0."""
    derivative = np.diff(rows.astype(np.float32), axis=1)
    derivative -= derivative.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(derivative, derivative.shape[1] + MAX_BLUR, axis=1)  # padded: no lag wraps
    pooled = np.fft.irfft((np.abs(spectrum) ** 2).sum(axis=0))[: MAX_BLUR + 1]
    return pooled / max(float(pooled[0]), 1e-9)


def _autocorrelations(image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The derivative autocorrelations along x and along y; None for a photo too small to measure."""
    gray = to_gray(image)
    if min(gray.shape) <= 2 * MAX_BLUR:
        return None
    along_x = _derivative_autocorrelation(gray[:: max(1, gray.shape[0] // MAX_ROWS)])
    along_y = _derivative_autocorrelation(gray[:, :: max(1, gray.shape[1] // MAX_ROWS)].T)
    return along_x, along_y


def _smear_score(along_x: np.ndarray, along_y: np.ndarray) -> float:
    """How much more alike neighbouring horizontal than vertical derivatives are (at BLUR_LAG)."""
    return float(along_x[BLUR_LAG] - along_y[BLUR_LAG])


def _textured_tiles(image: np.ndarray) -> np.ndarray:
    """The photo's TEXTURE_TILE-px square tiles with the most derivative energy (the
    TEXTURED_SHARE of them, at least MIN_TEXTURED_TILES), as an array of tiles."""
    gray = to_gray(image).astype(np.float32)
    rows, columns = gray.shape[0] // TEXTURE_TILE, gray.shape[1] // TEXTURE_TILE
    tiles = (
        gray[: rows * TEXTURE_TILE, : columns * TEXTURE_TILE]
        .reshape(rows, TEXTURE_TILE, columns, TEXTURE_TILE)
        .swapaxes(1, 2)
        .reshape(-1, TEXTURE_TILE, TEXTURE_TILE)
    )
    energy = (np.diff(tiles, axis=1) ** 2).sum(axis=(1, 2)) + (np.diff(tiles, axis=2) ** 2).sum(axis=(1, 2))
    return tiles[np.argsort(energy)[-max(MIN_TEXTURED_TILES, int(TEXTURED_SHARE * len(tiles))) :]]


def smear_length(image: np.ndarray) -> int:
    """A smeared photo's horizontal smear in pixels, read from its most textured tiles."""
    along_x = _derivative_autocorrelation(_textured_tiles(image).reshape(-1, TEXTURE_TILE))
    return _plateau_start(along_x)  # MIN_BLUR at least


def _defocus_of(along_x: np.ndarray, along_y: np.ndarray) -> tuple[float, float]:
    """How alike neighbouring derivatives are in the less alike direction (at DEFOCUS_LAG), and
    the blur radius that gives (DEFOCUS_RADIUS_AT)."""
    mean = (along_x + along_y) / 2
    negative = np.flatnonzero(mean[1:] < 0)
    lag = int(negative[0]) + 1 if negative.size else len(mean)
    radius = float(np.clip(DEFOCUS_RADIUS_AT[0] + DEFOCUS_RADIUS_AT[1] * lag, MIN_RADIUS, MAX_RADIUS))
    return float(min(along_x[DEFOCUS_LAG], along_y[DEFOCUS_LAG])), radius


def motion_blur_length(image: np.ndarray) -> int | None:
    """The horizontal smear of a photo in pixels, or None when it is not smeared (BLUR_ABOVE)."""
    correlations = _autocorrelations(image)
    return smear_length(image) if correlations is not None and _smear_score(*correlations) > BLUR_ABOVE else None


def _plateau_start(autocorrelation: np.ndarray) -> int:
    """The first lag from MIN_BLUR on where the autocorrelation has come within PLATEAU_WITHIN
    of its fall (from lag 0) to its first minimum."""
    lowest = autocorrelation[_first_minimum(autocorrelation)]
    close = lowest + PLATEAU_WITHIN * (autocorrelation[0] - lowest)
    return MIN_BLUR + int(np.flatnonzero(autocorrelation[MIN_BLUR:] <= close)[0])


def _first_minimum(autocorrelation: np.ndarray) -> int:
    """The first lag from MIN_BLUR on where the autocorrelation stops falling, else its lowest."""
    for lag in range(MIN_BLUR, len(autocorrelation) - 1):
        if autocorrelation[lag - 1] > autocorrelation[lag] <= autocorrelation[lag + 1]:
            return lag
    return MIN_BLUR + int(np.argmin(autocorrelation[MIN_BLUR:]))


class DetectionViews(NamedTuple):
    """The views of a photo the detector looks at, the first the one to cut and read."""

    looks: tuple[np.ndarray, ...]

    @property
    def keep_weak(self) -> bool:
        """Whether the detector keeps the boxes it answers only weakly (localize.py): in a
        photo smeared, perhaps smeared or out of focus, the photos looked at more than once,
        which a zoom does not sharpen."""
        return len(self.looks) > 1


def detection_views(image: np.ndarray) -> DetectionViews:
    """The photo as the detector looks at it: a photo smeared by horizontal motion
    (motion_blur_length) deconvolved at its measured length, then again SECOND_LOOK_SHORTER px
    shorter; a photo perhaps smeared (PERHAPS_SMEARED_ABOVE) as it is, then deconvolved; a photo
    out of focus (DEFOCUS_ABOVE) deconvolved at its measured radius, then
    DEFOCUS_SECOND_LOOK_WIDER px wider, then as it is; any other photo alone, as it is."""
    correlations = _autocorrelations(image)
    if correlations is None:
        return DetectionViews((image,))
    score = _smear_score(*correlations)
    if score > BLUR_ABOVE:
        length = smear_length(image)
        shorter = max(1, length - SECOND_LOOK_SHORTER)
        return DetectionViews((deconvolved(image, length), deconvolved(image, shorter)))
    if score > PERHAPS_SMEARED_ABOVE:
        return DetectionViews((image, deconvolved(image, smear_length(image))))
    focus, radius = _defocus_of(*correlations)
    if focus > DEFOCUS_ABOVE:
        return DetectionViews((refocused(image, radius), refocused(image, radius + DEFOCUS_SECOND_LOOK_WIDER), image))
    return DetectionViews((image,))


def disk(radius: float) -> np.ndarray:
    """A defocus blur's kernel: a disk of `radius` px, summing to 1 (float32)."""
    side = 2 * int(np.ceil(radius)) + 1
    offsets = np.arange(side) - side // 2
    inside = (offsets[None, :] ** 2 + offsets[:, None] ** 2 <= radius**2).astype(np.float32)
    return inside / inside.sum()


def refocused(image: np.ndarray, radius: float) -> np.ndarray:
    """The image deconvolved with a Wiener filter of a disk of `radius` px (a defocus blur)."""
    blur = disk(radius)
    side = blur.shape[0]
    pad = side  # reflected on every side, so the deconvolution does not wrap one side into the other
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT).astype(np.float32)
    height, width = padded.shape[:2]
    kernel = np.zeros((height, width), np.float32)
    kernel[:side, :side] = blur
    inverse = _wiener_inverse(np.fft.rfft2(np.roll(kernel, (-(side // 2), -(side // 2)), (0, 1))))  # centred

    def restored_channel(channel: np.ndarray) -> np.ndarray:
        restored = np.fft.irfft2(np.fft.rfft2(channel) * inverse, s=(height, width))
        return np.clip(restored[pad:-pad, pad:-pad], 0, 255).astype(np.uint8)

    return _each_channel(restored_channel, padded)


def deconvolved(image: np.ndarray, length: int) -> np.ndarray:
    """The image deconvolved row by row with a Wiener filter of a `length`-px horizontal box."""
    pad = 2 * length  # reflected at the sides, so the deconvolution does not wrap one side into the other
    padded = cv2.copyMakeBorder(image, 0, 0, pad, pad, cv2.BORDER_REFLECT).astype(np.float32)
    width = padded.shape[1]
    kernel = np.zeros(width, np.float32)
    kernel[:length] = 1 / length
    inverse = _wiener_inverse(np.fft.rfft(np.roll(kernel, -(length // 2))))  # centred: the photo does not shift

    def restored_channel(channel: np.ndarray) -> np.ndarray:
        restored = np.fft.irfft(np.fft.rfft(channel, axis=1) * inverse, n=width, axis=1)
        return np.clip(restored[:, pad:-pad], 0, 255).astype(np.uint8)

    return _each_channel(restored_channel, padded)


def _wiener_inverse(transfer: np.ndarray) -> np.ndarray:
    """The Wiener filter undoing a blur of this transfer function (noise-to-signal WIENER_NOISE)."""
    return np.conj(transfer) / (np.abs(transfer) ** 2 + WIENER_NOISE)


def _each_channel(restore: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    """`restore` of a gray image, or of each channel of a colour one in turn (numpy transforms in
    double precision: a 12 MP photo so peaks at about 0.6 GB)."""
    if image.ndim == 2:
        return restore(image)
    return cv2.merge([restore(channel) for channel in cv2.split(image)])
