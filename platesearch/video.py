"""Video files: frames sampled at a steady rate and decoded one at a time, near-duplicates
marked, and one frame read back at a given time.

OpenCV's VideoCapture (its bundled FFmpeg) decodes: on 720p H.264 it decoded about 10 % faster
than PyAV (1,321 against 1,206 frames/s, BENCHMARKS.md), decoding is under 2 % of the time of
indexing a video, and it is a dependency already. A decoding error ends the stream there: what
came before is kept and `VideoFrames.ended_early` says why the rest is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from platesearch.media import DEFAULT_MAX_PIXELS, VIDEO_SUFFIXES, ImageReadError, read_image

DEFAULT_SAMPLE_FPS = 2.0
# A sampled frame whose 64x36 grey thumbnail differs from the last frame kept by less than this
# (mean absolute difference, 0-255) shows nothing new: a parked car under a still camera.
DUPLICATE_DIFFERENCE = 1.5
THUMBNAIL = (64, 36)
DEFAULT_NATIVE_FPS = 25.0  # a header that gives no frame rate
# A stream that stops this many seconds (and 2 % of its length) before its header says it
# should was cut short or is corrupt from there on.
EARLY_END_SLACK = 1.0


def is_video(path: Path | str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class SampledFrame:
    """A frame at `time` seconds from the start; `image` is None when it repeats the frame kept before."""

    time: float
    image: np.ndarray | None


class VideoFrames:
    """The frames of a video at `fps` per second, decoded one at a time (memory stays flat)."""

    def __init__(self, path: Path | str, fps: float = DEFAULT_SAMPLE_FPS, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if fps <= 0:
            raise ValueError(f"the sampling rate must be above 0 frames per second, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self.capture = _open(self.path)
        width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > max_pixels:
            self.capture.release()
            raise ImageReadError(self.path, f"{width}x{height} frames are above the limit of {max_pixels / 1e6:.0f} MP")
        self.native_fps = self.capture.get(cv2.CAP_PROP_FPS) or DEFAULT_NATIVE_FPS
        self.duration = _duration(self.capture)
        self.ended_early: str | None = None  # set once the frames are read, if the stream stopped short
        self.decoded_seconds = 0.0

    def __iter__(self) -> Iterator[SampledFrame]:
        next_time, last_kept, frame_number = 0.0, None, 0
        try:
            while self.capture.grab():
                position = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                time = position if position > 0 or frame_number == 0 else frame_number / self.native_fps
                frame_number += 1
                self.decoded_seconds = time
                if time + 1e-6 < next_time:
                    continue
                next_time = max(next_time + 1.0 / self.fps, time)
                ok, image = self.capture.retrieve()
                if not ok:
                    break
                thumbnail = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), THUMBNAIL, interpolation=cv2.INTER_AREA)
                repeat = last_kept is not None and cv2.absdiff(thumbnail, last_kept).mean() < DUPLICATE_DIFFERENCE
                if not repeat:
                    last_kept = thumbnail
                yield SampledFrame(round(time, 3), None if repeat else image)
        finally:
            self.capture.release()
        if frame_number == 0:
            self.ended_early = "no frame could be decoded"
        elif self.duration - self.decoded_seconds > max(EARLY_END_SLACK, 0.02 * self.duration):
            self.ended_early = (
                f"the video stops decoding at {self.decoded_seconds:.1f} s of {self.duration:.1f} s "
                "(truncated or corrupt): indexed up to there"
            )


@cache
def _quiet_decoder() -> None:
    """FFmpeg and OpenCV print each decoding error of a cut or corrupt video to stderr, lines
    that break the progress bar; what they mean is reported once (`ended_early`, or an error).
    Set before the first video is opened; $OPENCV_FFMPEG_LOGLEVEL set by the user wins."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _open(path: Path) -> cv2.VideoCapture:
    _quiet_decoder()
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise ImageReadError(path, "cannot open the video (truncated, corrupt or an unknown format)")
    return capture


def _duration(capture: cv2.VideoCapture) -> float:
    """Seconds of video the header announces (frames / frame rate)."""
    return capture.get(cv2.CAP_PROP_FRAME_COUNT) / (capture.get(cv2.CAP_PROP_FPS) or DEFAULT_NATIVE_FPS)


def video_duration(path: Path | str) -> float:
    """Seconds of video its header announces (0 when it cannot be opened)."""
    try:
        capture = _open(Path(path))
    except (ImageReadError, OSError):
        return 0.0
    try:
        return _duration(capture)
    finally:
        capture.release()


def read_frame(path: Path | str, time: float) -> np.ndarray:
    """The frame shown at `time` seconds (BGR), or ImageReadError."""
    path = Path(path)
    capture = _open(path)
    try:
        duration = _duration(capture)
        if not 0 <= time <= duration:
            raise ImageReadError(path, f"no frame at {time} s: the video is {duration:.1f} s long")
        capture.set(cv2.CAP_PROP_POS_MSEC, time * 1000.0)
        ok, image = capture.read()
        if not ok:
            raise ImageReadError(path, f"the frame at {time} s cannot be decoded")
        return image
    finally:
        capture.release()


def read_still(path: Path | str, time: float | None) -> np.ndarray:
    """What a crop was cut from: the photo, or a video's frame at `time`."""
    return read_image(path) if time is None else read_frame(path, time)
