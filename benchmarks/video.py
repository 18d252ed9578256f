"""Video indexing: decoders compared, throughput at 2 sampled frames per second, memory over a long video.

The videos are generated like the shipped constructed sample (`datasets/make_sample_video.py`:
real sample photos with a slow zoom and pan, 1280x720) but longer, at 25 frames per second,
H.264 (x264, preset ultrafast, CRF 28), each photo 5 s.

- decode: every frame decoded and 2 per second converted to BGR arrays, by OpenCV's
  VideoCapture (`platesearch.video.VideoFrames`, near-duplicate check included) and by PyAV;
  decoded frames per second, best of --rounds.
- index: `PlateIndex.add` on the --seconds video in this process (workers 0) at the default
  2 frames per second: sampled frames per second and seconds of video per second of wall time.
- memory: the resident size of this process, sampled every 0.5 s while (a) VideoFrames reads
  the --long-seconds video at 2 frames per second, and (b) `PlateIndex.add` indexes it at
  --long-fps (every frame is decoded either way; fewer are localized, to keep the run short).

Run: .venv/bin/python benchmarks/video.py [--seconds 60] [--long-seconds 600] [--long-fps 0.2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))
from make_sample_video import FRAME_SIZE, PHOTOS, SAMPLE, photo_frames  # noqa: E402

from platesearch.model import default_embedder  # noqa: E402
from platesearch.pipeline import PlateIndex  # noqa: E402
from platesearch.video import VideoFrames  # noqa: E402

FPS = 25
SECONDS_PER_PHOTO = 5


def make_video(path: Path, seconds: int) -> Path:
    photos = [cv2.imread(str(SAMPLE / "images" / name)) for name in PHOTOS]
    per_photo = FPS * SECONDS_PER_PHOTO
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "28", "preset": "ultrafast"})
        stream.width, stream.height = FRAME_SIZE
        stream.pix_fmt = "yuv420p"
        clips = [photo_frames(photo, per_photo) for photo in photos]  # each photo's clip made once
        for n in range(seconds // SECONDS_PER_PHOTO):
            for frame in clips[n % len(clips)]:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        container.mux(stream.encode())
    return path


def decode_opencv(path: Path) -> tuple[int, int]:
    frames = VideoFrames(path)
    kept = sum(1 for _ in frames)
    return round(frames.decoded_seconds * frames.native_fps) + 1, kept


def decode_pyav(path: Path) -> tuple[int, int]:
    decoded = kept = 0
    next_time = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            decoded += 1
            if float(frame.pts * stream.time_base) + 1e-6 >= next_time:
                frame.to_ndarray(format="bgr24")
                kept += 1
                next_time += 0.5
    return decoded, kept


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


class MemoryProbe:
    """The resident size every 0.5 s while a block runs."""

    def __enter__(self) -> MemoryProbe:
        self.samples: list[float] = [resident_mb()]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.5):
            self.samples.append(resident_mb())

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.samples.append(resident_mb())

    def summary(self) -> str:
        n = len(self.samples)
        quarters = [self.samples[min(n - 1, q * n // 4)] for q in (1, 2, 3)] + [self.samples[-1]]
        return (
            f"start {self.samples[0]:.0f} MB, at 1/4 2/4 3/4 end {' '.join(f'{q:.0f}' for q in quarters)} MB, "
            f"peak {max(self.samples):.0f} MB ({n} samples)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--long-seconds", type=int, default=600)
    parser.add_argument("--long-fps", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="platesearch-video-"))
    started = time.perf_counter()
    short = make_video(work / "short.mp4", args.seconds)
    print(f"{short.name}: {args.seconds} s 1280x720 at {FPS} fps, {short.stat().st_size / 2**20:.1f} MB")
    for name, decode in (("opencv VideoCapture", decode_opencv), ("PyAV", decode_pyav)):
        best = float("inf")
        for _ in range(args.rounds):
            began = time.perf_counter()
            decoded, kept = decode(short)
            best = min(best, time.perf_counter() - began)
        print(
            f"decode {name}: {decoded} frames decoded, {kept} kept, {decoded / best:.0f} decoded frames/s (best of {args.rounds})"
        )

    embedder = default_embedder()
    with PlateIndex.create(work / "index-short", embedder) as plate_index:
        began = time.perf_counter()
        report = plate_index.add([short], workers=0)
        wall = time.perf_counter() - began
        crops = plate_index.stats()["crops"]
    sampled = args.seconds * 2
    stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in report.seconds.items() if seconds >= 0.05)
    print(
        f"index {args.seconds} s at 2 frames/s: {wall:.1f} s wall, {sampled / wall:.2f} sampled frames/s, "
        f"{args.seconds / wall:.2f} s of video per s; {crops} crops; seconds per stage: {stages}"
    )

    long = make_video(work / "long.mp4", args.long_seconds)
    print(f"{long.name}: {args.long_seconds} s, {long.stat().st_size / 2**20:.1f} MB")
    with MemoryProbe() as probe:
        frames = sum(1 for _ in VideoFrames(long))
    print(f"memory, reading {frames} sampled frames of {args.long_seconds} s: {probe.summary()}")
    with MemoryProbe() as probe, PlateIndex.create(work / "index-long", embedder) as plate_index:
        plate_index.add([long], workers=0, video_fps=args.long_fps)
        crops = plate_index.stats()["crops"]
    print(f"memory, indexing {args.long_seconds} s at {args.long_fps} frames/s ({crops} crops): {probe.summary()}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
