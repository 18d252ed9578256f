"""Media files: which files are photos (and videos), reading them the way every stage expects (upright,
8-bit BGR, or one clear error), hashing them, and writing images."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from pi_heif import register_heif_opener
from PIL import Image, ImageOps, UnidentifiedImageError

register_heif_opener()  # HEIC/HEIF, phones' default, decoded by libheif: Pillow reads them as any other photo

DEFAULT_MAX_PIXELS = 100_000_000  # refuse decompression bombs above 100 megapixels
EXIF_IFD, EXIF_DATETIME_ORIGINAL, EXIF_DATETIME = 0x8769, 36867, 306  # EXIF tags (the Exif sub-IFD, and two times)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mts", ".wmv", ".3gp"})  # video.py
# Files a user may expect to be read and that are not: said so, not skipped without a word.
NOT_SUPPORTED = dict.fromkeys(
    VIDEO_SUFFIXES, "a video: `platesearch index` reads videos (without --crops), this command does not"
)


def absolute_path(path: Path | str) -> Path:
    """The absolute form of a path as the user gave it: `..` collapsed, symbolic links kept.

    The index records photos under this form, so a query or a removal that names the same
    file in another way (relative, with `..`) still finds it.
    """
    return Path(os.path.abspath(path))


def iter_image_files(
    paths: Iterable[Path | str],
    unreadable: list[tuple[str, str]] | None = None,
    not_images: dict[str, int] | None = None,
    videos: bool = False,
) -> Iterator[Path]:
    """Image files under `paths` (files as given, folders recursively), absolute, sorted per
    folder; video files too with `videos`.

    Symbolic-link loops are walked once. Folders that cannot be listed, and image names that
    are not regular files (pipes, devices) or not valid UTF-8, are skipped and, if `unreadable`
    is given, appended to it as (path, reason); files in folders that are not images are
    counted by suffix in `not_images`, if given.
    """

    def note_unreadable(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append((str(error.filename), f"cannot read folder: {error.strerror or error}"))

    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES if videos else IMAGE_SUFFIXES
    seen_dirs: set[Path] = set()
    for root in paths:
        root = absolute_path(root)
        if not root.is_dir():
            reason = _not_indexable(root) if root.exists() else None
            if reason is None:
                yield root  # a file, or a missing one: the indexer reports it, never drops it silently
            elif unreadable is not None:
                unreadable.append((ascii(str(root)), reason))
            continue
        for folder, subdirs, files in os.walk(root, followlinks=True, onerror=note_unreadable):
            real = Path(folder).resolve()
            if real in seen_dirs:
                subdirs[:] = []
                continue
            seen_dirs.add(real)
            subdirs.sort()
            for name in sorted(files):
                suffix = Path(name).suffix.lower()
                path = Path(folder) / name
                if suffix in suffixes:
                    reason = _not_indexable(path)
                    if reason is None:
                        yield path
                    elif unreadable is not None:
                        unreadable.append((ascii(str(path)), reason))
                elif not_images is not None:
                    not_images[suffix or "(no suffix)"] = not_images.get(suffix or "(no suffix)", 0) + 1


def _not_indexable(path: Path) -> str | None:
    """Why an existing path cannot be indexed (None if it can)."""
    if path.exists() and not path.is_file():  # a FIFO or a link to a device would hang the decoder
        return "not a regular file (a pipe, device or socket)"
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # the file system allows it; the catalog (UTF-8 text) cannot store it
        return "the file name is not valid UTF-8: rename the file"
    return None


def file_sha256(path: Path) -> str:
    """Content hash of a file: identifies photos (skip what is indexed) and model weights."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ImageReadError(Exception):
    """An image could not be read; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason

    def __reduce__(self):
        # Rebuilt from (path, reason), not from the message: a worker process can raise it
        # to its pool (otherwise unpickling fails there and multiprocessing's pool hangs).
        return type(self), (self.path, self.reason)


class ImageWriteError(OSError):
    """An image could not be written: the message names the file and what to change."""


FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def check_figure_path(path: Path | str) -> Path:
    """A figure's output path, checked before drawing: its folder exists and its suffix is one
    matplotlib writes (it would otherwise add ".png" silently, or fail after the work)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ImageWriteError(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ImageWriteError(f"cannot write {path}: give it one of the suffixes {', '.join(FIGURE_SUFFIXES)}")
    return path


def write_image(path: Path | str, image: np.ndarray) -> Path:
    """Write an image (the format from the name's suffix), or raise one clear error: OpenCV
    itself returns False for a missing folder and raises its own error for an unknown suffix."""
    import cv2

    path = Path(path)
    if not path.parent.is_dir():
        raise ImageWriteError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        written = cv2.imwrite(str(path), image)
    except cv2.error:
        written = False
    if not written:
        raise ImageWriteError(f"cannot write {path}: give it a .png or .jpg name")
    return path


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode: 16-bit and float are rescaled, alpha composited on white."""
    if image.mode.startswith("I;16"):  # integer shift: no float copy of a large image
        return Image.fromarray((np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)).convert("RGB")
    if image.mode in ("I", "F"):
        values = np.array(image, dtype=np.float32)
        peak = float(values.max()) if values.size else 0.0
        top = (
            1.0 if image.mode == "F" and peak <= 1.0 else 65535.0 if peak > 255 else 255.0
        )  # float TIFFs are often 0..1
        np.multiply(values, 255.0 / top, out=values)
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def read_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file as an upright (EXIF orientation applied) uint8 BGR array.

    Raises ImageReadError for a missing, unreadable, truncated, non-image or oversized file.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageReadError(
                    path,
                    f"{width}x{height} is {width * height / 1e6:.0f} MP, above the limit of {max_pixels / 1e6:.0f} MP",
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = np.asarray(_to_rgb(upright))
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unknown or corrupt format)") from None
    except Image.DecompressionBombError:
        raise ImageReadError(path, "declared image size is far above the pixel limit (decompression bomb?)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(path, f"cannot decode: {error}") from None
    if rgb.size == 0:
        raise ImageReadError(path, "image has no pixels")
    return np.ascontiguousarray(rgb[:, :, ::-1])


def taken_at(path: Path | str, mtime: float) -> str:
    """When a photo was taken, as ISO 8601 local time to the second: its EXIF DateTimeOriginal
    (or DateTime) when it has one, the camera's clock; otherwise `mtime`, the file's time."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            stamp = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
        if isinstance(stamp, str):
            return datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError):
        pass  # no EXIF, a malformed time, or not a file PIL reads: the file's time it is
    return datetime.fromtimestamp(mtime).replace(microsecond=0).isoformat()
