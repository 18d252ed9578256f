"""Build the constructed sample video (issue #16) from real photos of `datasets/sample/photos`.

Each chosen photo is shown for SECONDS_PER_PHOTO seconds in a 1280x720 frame with a slow zoom
and pan, one after the other, encoded as H.264 (the usual camera codec) at FPS frames per second.
It is constructed, not recorded: every frame is one of the real photos, moved. `labels.csv`
beside it says which plate is on screen from when to when (seconds), so a test can check that
each plate is found at rank 1 with its `time` inside that span.

Deterministic; needs PyAV (installed by `make test`). Run:
    .venv/bin/python datasets/make_sample_video.py [--out datasets/sample/video]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import av
import cv2
import numpy as np

SAMPLE = Path(__file__).resolve().parent / "sample" / "photos"
PHOTOS = ("eu-test_003.jpg", "eu-test_019.jpg", "br-HPM9362.jpg", "eu-test_025.jpg", "br-OKL1235.jpg")
FRAME_SIZE = (1280, 720)
FPS = 10
SECONDS_PER_PHOTO = 3.0
ZOOM = 0.12  # the last frame of a photo is 12 % larger than its first
PAN = 60  # pixels the photo drifts sideways while it is shown
CRF = 30  # x264 quality: a few hundred KB for the whole video


def _plates() -> dict[str, str]:
    with (SAMPLE / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return {Path(row["image"]).name: row["plate"] for row in csv.DictReader(handle)}


def photo_frames(photo: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` frames of the photo, fitted into FRAME_SIZE on its own blurred copy, zooming and panning."""
    frame_w, frame_h = FRAME_SIZE
    h, w = photo.shape[:2]
    fit = min(frame_w / w, frame_h / h)
    background = cv2.GaussianBlur(cv2.resize(photo, FRAME_SIZE, interpolation=cv2.INTER_AREA), (0, 0), 20)
    frames = []
    for n in range(count):
        progress = n / max(1, count - 1)
        scale = fit * (1 + ZOOM * progress)
        shift_x = (frame_w - w * scale) / 2 + PAN * (progress - 0.5)
        shift_y = (frame_h - h * scale) / 2
        warp = np.float32([[scale, 0, shift_x], [0, scale, shift_y]])
        frames.append(cv2.warpAffine(photo, warp, FRAME_SIZE, dst=background.copy(), borderMode=cv2.BORDER_TRANSPARENT))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE.parent / "video")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plates = _plates()
    per_photo = round(SECONDS_PER_PHOTO * FPS)
    video_path = args.out / "constructed.mp4"
    # faststart: the index of frames comes first, so a copy cut short still plays up to the cut
    with av.open(str(video_path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": str(CRF), "preset": "slow"})
        stream.width, stream.height = FRAME_SIZE
        stream.pix_fmt = "yuv420p"
        for name in PHOTOS:
            photo = cv2.imread(str(SAMPLE / "images" / name))
            for frame in photo_frames(photo, per_photo):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        container.mux(stream.encode())
    with (args.out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["plate", "start", "end", "photo"])
        for n, name in enumerate(PHOTOS):
            writer.writerow(
                [plates[name], n * SECONDS_PER_PHOTO, (n + 1) * SECONDS_PER_PHOTO, f"../photos/images/{name}"]
            )
    print(f"{video_path}: {len(PHOTOS) * SECONDS_PER_PHOTO:.0f} s, {video_path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
