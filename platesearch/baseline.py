"""The search a user would script instead of platesearch, built in as the yardstick.

EasyOCR `readtext` over each whole image at full resolution, default parameters; each image
is ranked by the best plain normalized Levenshtein similarity between the query and each
recognized string or the concatenation of all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from platesearch.config import plate_rules
from platesearch.plates import canonical_characters


def plate_characters(text: str) -> str:
    """`text` reduced to the plate alphabet (upper case, look-alikes mapped, the rest dropped)."""
    alphabet = plate_rules().alphabet
    return "".join(c for c in canonical_characters(text) if c in alphabet)


def whole_image_readings(path: Path | str) -> list[str]:
    """Every string EasyOCR `readtext` finds in the whole image (default parameters), and their concatenation."""
    from platesearch.localize import get_reader
    from platesearch.media import read_image

    found = [plate_characters(text) for _, text, _ in get_reader().readtext(read_image(path))]
    found = [t for t in found if t]
    return found + ["".join(found)] if len(found) > 1 else found


def read_images(
    paths: Sequence[Path | str],
    cache_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[str]]:
    """whole_image_readings of each path; with `cache_file` (JSON), readings are kept across runs.

    An image that cannot be decoded has no readings (as a user's script would skip it).
    """
    from platesearch.media import ImageReadError, absolute_path

    cache: dict[str, list[str]] = {}
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)  # before the first periodic save
    if cache_file is not None and cache_file.is_file():
        cache = {str(absolute_path(k)): v for k, v in json.loads(cache_file.read_text(encoding="utf-8")).items()}
    readings = {}
    for n, path in enumerate(paths, start=1):
        key = str(absolute_path(path))
        if key not in cache:
            try:
                cache[key] = whole_image_readings(path)
            except ImageReadError:
                cache[key] = []
            if cache_file is not None and n % 10 == 0:
                cache_file.write_text(json.dumps(cache), encoding="utf-8")
        readings[key] = cache[key]
        if progress:
            progress(n, len(paths))
    if cache_file is not None:
        cache_file.write_text(json.dumps(cache), encoding="utf-8")
    return readings
