"""platesearch.baseline: the whole-image EasyOCR search users would script, its readings cached."""

from __future__ import annotations

import json

from platesearch import baseline


def test_readings_cache_in_a_new_folder_survives_periodic_saves(tmp_path, monkeypatch):
    """The cache is saved every 10 images; its folder may not exist yet (a fresh build/)."""
    read = []
    monkeypatch.setattr(baseline, "whole_image_readings", lambda path: read.append(path) or [path.stem.upper()])
    paths = [tmp_path / f"p{n:02d}.jpg" for n in range(23)]
    cache = tmp_path / "not" / "yet" / "there.json"

    readings = baseline.read_images(paths, cache)

    assert len(read) == 23
    assert readings[str(paths[4].resolve())] == ["P04"]
    assert len(json.loads(cache.read_text())) == 23
    again = baseline.read_images(paths, cache)  # every reading now comes from the cache
    assert again == readings and len(read) == 23
