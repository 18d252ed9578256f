"""Sightings: one plate in consecutive frames of a video is one, on hand-made candidates."""

from platesearch.records import CropRow
from platesearch.sightings import MAX_GAP, SightingTracker


def crop(reading: str | None, x: int = 0) -> CropRow:
    return CropRow((x, 100, 120, 30), reading, 0.9 if reading else None)


def spans(tracker: SightingTracker) -> list[tuple[str | None, int, float, float]]:
    return [(r.ocr_text, r.sighting.number, r.sighting.first, r.sighting.last) for r in tracker.crops()]


def test_a_passing_plate_is_one_sighting_though_it_moves_and_is_misread():
    tracker = SightingTracker()
    for n, (reading, x) in enumerate([("AB1234", 0), ("A81234", 300), ("AB1234", 700)]):
        tracker.add(n * 0.5, [crop(reading, x)])  # no box overlap: the reading ties them
    assert {number for _, number, _, _ in spans(tracker)} == {0}
    assert spans(tracker)[0][2:] == (0.0, 1.0)


def test_two_plates_in_one_frame_are_two_sightings_and_a_duplicate_candidate_is_not():
    tracker = SightingTracker()
    tracker.add(0.0, [crop("AB1234", 0), crop("XY9876", 500), crop("AB12345", 5)])
    tracker.add(0.5, [crop("XY9876", 520), crop("AB1234", 10)])
    numbers = {reading: number for reading, number, _, _ in spans(tracker)}
    assert numbers["AB1234"] == numbers["AB12345"] != numbers["XY9876"]
    assert len({n for _, n, _, _ in spans(tracker)}) == 2


def test_a_plate_back_after_a_gap_is_a_new_sighting():
    tracker = SightingTracker()
    tracker.add(0.0, [crop("AB1234")])
    tracker.add(MAX_GAP + 0.5, [crop("AB1234")])
    assert [number for _, number, _, _ in spans(tracker)] == [0, 1]


def test_unread_candidates_follow_their_box_and_repeated_frames_extend_what_is_in_sight():
    tracker = SightingTracker()
    tracker.add(0.0, [crop(None, 0), crop("XY9876", 600)])
    tracker.add(0.5, [crop(None, 10)])  # overlaps the first box; XY9876 is not in this frame
    for time in (1.0, 1.5, 2.0, 2.5):
        tracker.repeat(time)  # a still camera: the frames repeat the one at 0.5 s
    unread = [s for s in spans(tracker) if s[0] is None]
    assert {number for _, number, _, _ in unread} == {0} and unread[0][2:] == (0.0, 2.5)
    assert [s[2:] for s in spans(tracker) if s[0] == "XY9876"] == [(0.0, 0.0)]  # not seen again


def test_a_fragment_read_off_something_else_does_not_join_a_plate_that_left_the_frame():
    """A stranger's crop read "1" is not the plate whose reading ends in "21" (with stray end
    characters cheap the two came within SAME_READING): it starts a sighting of its own."""
    tracker = SightingTracker()
    tracker.add(0.0, [crop("HPM93621 21 HPM9362", 0)])
    tracker.add(0.5, [crop("HPM9362", 20)])
    tracker.add(1.0, [crop("DCGRE 1", 600)])  # elsewhere in the frame: the plate has gone
    numbers = [number for _, number, _, _ in spans(tracker)]
    assert numbers[0] == numbers[1] != numbers[2]
    assert spans(tracker)[0][2:] == (0.0, 0.5)
