"""Videos: sampling frames from a real H.264 file, cut and empty files, and the constructed
sample video indexed through the CLI with every plate found at rank 1 while it is on screen."""

import csv
import json
import shutil

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.media import ImageReadError
from platesearch.video import VideoFrames, read_frame

runner = CliRunner()


@pytest.fixture(scope="session")
def video(sample):
    return sample / "video" / "constructed.mp4"


@pytest.fixture()
def cut_video(video, tmp_path):
    """The first eighth of the sample video's bytes: it plays 2 of its 15 s, then stops."""
    data = video.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 8])
    return path


def test_frames_of_a_real_h264_video_are_sampled_twice_a_second(video):
    frames = VideoFrames(video)
    sampled = list(frames)
    assert [f.time for f in sampled] == [n / 2 for n in range(30)]  # 15 s at 10 fps, 2 kept per second
    assert all(f.image is not None and f.image.shape == (720, 1280, 3) for f in sampled)  # every frame moves
    assert frames.ended_early is None
    assert np.abs(read_frame(video, 7.5).astype(int) - sampled[15].image).mean() < 1.0  # the same frame read back


def test_a_still_video_keeps_its_first_frame_and_marks_the_rest_as_repeats(tmp_path, sample):
    photo = cv2.imread(str(next((sample / "photos" / "images").glob("*.jpg"))))
    photo = cv2.resize(photo, (320, 240))
    path = tmp_path / "still.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(30):
        writer.write(photo)
    writer.release()
    sampled = list(VideoFrames(path))
    assert len(sampled) == 6 and sampled[0].image is not None
    assert all(f.image is None for f in sampled[1:])


def test_a_cut_video_gives_its_frames_up_to_the_cut_and_says_so(cut_video):
    frames = VideoFrames(cut_video)
    sampled = list(frames)
    assert 4 <= len(sampled) < 30 and sampled[-1].time < 14.0
    assert frames.ended_early and "truncated or corrupt" in frames.ended_early


def test_empty_missing_and_out_of_range_videos_are_clear_errors(tmp_path, video):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(ImageReadError, match="empty file"):
        VideoFrames(empty)
    with pytest.raises(ImageReadError, match="no such file"):
        VideoFrames(tmp_path / "missing.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(ImageReadError, match="cannot open the video"):
        VideoFrames(tmp_path / "text.mp4")
    with pytest.raises(ImageReadError, match="15.0 s long"):
        read_frame(video, 99.0)


def test_an_empty_video_frame_is_detected_once_where_an_empty_photo_is_detected_twice(tmp_path, monkeypatch):
    """A textless photo gets localize's second, lower-threshold detection; a textless video
    frame does not (the plate of a frame is on screen in the next ones, and empty frames abound)."""
    from platesearch import localize as loc
    from platesearch.ingest import Job, Preparer

    blank = np.full((240, 320, 3), 160, np.uint8)  # not dark: a dark photo is detected lit too
    cv2.imwrite(str(tmp_path / "empty.png"), blank)
    writer = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(10):
        writer.write(blank)
    writer.release()
    detections = []
    monkeypatch.setattr(
        loc, "_detect_photo", lambda image, max_side, *thresholds, keep_weak=False: detections.append(1) or []
    )
    prepare = Preparer(inputs_are_crops=False, ocr=True, max_pixels=10**8)
    for name, expected in (("empty.png", 2), ("empty.avi", 1)):  # the still video: one frame localized
        detections.clear()
        prepared = prepare(Job(str(tmp_path / name), "", 0, 0.0))
        assert prepared.error is None and prepared.crops == []
        assert len(detections) == expected, name


@pytest.mark.slow
def test_a_still_video_through_a_worker_is_one_frame_whose_sightings_last_to_its_end(tmp_path, sample):
    """The worker-process path (pickled results): one frame localized, the repeats extend its sightings."""
    from platesearch.pipeline import PlateIndex

    photo = cv2.imread(str(sample / "photos" / "images" / "br-HPM9362.jpg"))
    path = tmp_path / "parked.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (photo.shape[1], photo.shape[0]))
    for _ in range(30):
        writer.write(photo)
    writer.release()
    with PlateIndex.create(tmp_path / "index") as plate_index:
        report = plate_index.add([path], workers=1)
        crops = plate_index.crops_of([str(path)]).values()
        results = plate_index.search("HPM9362", k=1)
    assert report.indexed == 1 and crops
    assert all(c.time == 0.0 and (c.sighting.first, c.sighting.last) == (0.0, 2.5) for c in crops)
    assert results[0].path == str(path) and results[0].reading == "HPM9362"


@pytest.mark.slow
def test_the_constructed_video_is_indexed_and_every_plate_found_while_on_screen(tmp_path, sample, video, cut_video):
    """Indexed beside a cut copy, an empty video and a photo: every plate at rank 1 with its
    time inside the seconds it is on screen; the cut copy up to its cut, the empty one counted."""
    folder = tmp_path / "camera"
    folder.mkdir()
    shutil.copy(video, folder / "constructed.mp4")
    shutil.copy(cut_video, folder / "cut.mp4")
    (folder / "empty.mp4").touch()
    photo = sample / "photos" / "images" / "eu-test_005.jpg"
    shutil.copy(photo, folder / photo.name)
    index = tmp_path / "index"
    # one frame every 2 s (the default samples two a second) keeps the test short; each plate is still on screen for 1-2 of them
    command = ["index", str(folder), "--index", str(index), "--workers", "0", "--video-fps", "0.5"]
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output  # one file failed: the empty video
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "failed: " in output and "empty.mp4: empty file" in output
    assert "read in part: " in output and "cut.mp4: the video stops decoding" in output
    assert "indexed 2 videos and 1 image" in output  # the video, the cut copy up to its cut, the photo

    with (video.parent / "labels.csv").open(newline="") as handle:
        on_screen = list(csv.DictReader(handle))
    for row in on_screen:
        found = runner.invoke(app, ["query", row["plate"], "--index", str(index), "--json", "-k", "1"])
        (best,) = json.loads(found.output)
        assert best["path"].endswith(".mp4"), (row["plate"], best)
        assert float(row["start"]) <= best["first"] <= best["time"] <= best["last"] < float(row["end"]), (row, best)
    found = runner.invoke(app, ["query", "TS260AK", "--index", str(index), "--json", "-k", "1"])
    assert json.loads(found.output)[0]["path"] == str(folder / photo.name)  # nothing else in the run was lost

    written = runner.invoke(app, ["frame", str(video), "--time", str(best["time"]), "-o", str(tmp_path / "hit.png")])
    assert written.exit_code == 0, written.output
    assert cv2.imread(str(tmp_path / "hit.png")).shape == (720, 1280, 3)
    stats = " ".join(runner.invoke(app, ["stats", "--index", str(index)]).output.split())
    assert "cut.mp4: the video stops decoding" in stats and "empty.mp4: empty file" in stats
