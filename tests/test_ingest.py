"""Which files an indexing run works on, and how it stops: plate crops without OCR and a fake
embedder, so neither EasyOCR nor TensorFlow loads."""

import os
import shutil
import threading

import numpy as np
import pytest

from platesearch import ingest
from platesearch.ingest import Ingest, Preparer
from platesearch.media import DEFAULT_MAX_PIXELS, iter_image_files
from platesearch.shards import ShardSet
from platesearch.vectors import stored_vectors
from platesearch.views import VIEWS, crop_views, mean_of_views

DIM = 8


def fake_embed(plate_images: np.ndarray) -> np.ndarray:
    vectors = np.random.default_rng(len(plate_images)).normal(size=(len(plate_images), DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture()
def crops(tmp_path, sample):
    folder = tmp_path / "crops"
    shutil.copytree(sample / "crops" / "images", folder)
    return folder


@pytest.fixture()
def store(make_store):
    return make_store(DIM)


def run(store, paths, progress=None, stop=None):
    files = list(iter_image_files(paths))
    preparer = Preparer(inputs_are_crops=True, ocr=False, max_pixels=DEFAULT_MAX_PIXELS)
    return Ingest(ShardSet(store.directory, [store]), fake_embed, DIM, progress).run(files, preparer, 0, stop)


def test_unchanged_files_are_skipped_without_reading_them(store, crops, monkeypatch):
    assert run(store, [crops]).indexed == 30
    hashed = []
    monkeypatch.setattr(ingest, "file_sha256", lambda path: hashed.append(path) or "x")
    report = run(store, [crops])
    assert report.skipped == 30 and report.indexed == 0 and hashed == []


def test_a_touched_file_is_hashed_once_then_skipped_by_its_time(store, crops):
    run(store, [crops])
    first = sorted(crops.iterdir())[0]
    os.utime(first, (1_000_000, 1_000_000))
    assert run(store, [crops]).skipped == 30  # same content: skipped after hashing, the new time recorded
    assert store.catalog.known_file(str(first)).mtime == 1_000_000


def test_moved_photos_are_recorded_at_their_new_path(store, crops, tmp_path):
    run(store, [crops])
    moved = tmp_path / "moved"
    crops.rename(moved)
    report = run(store, [moved])
    assert report.moved == 30 and report.indexed == 0 and store.vectors.ntotal == 30
    paths = [row[0] for row in store.catalog.db.execute("SELECT path FROM photos")]
    assert paths and all(path.startswith(str(moved)) for path in paths)


def test_a_copy_beside_the_original_is_not_indexed_twice(store, crops, tmp_path):
    run(store, [crops])
    copy = tmp_path / "copy.png"
    shutil.copy(sorted(crops.iterdir())[0], copy)
    report = run(store, [copy])
    assert report.skipped == 1 and report.moved == 0 and report.indexed == 0


def test_progress_reaches_the_total_when_every_file_is_skipped(store, crops):
    run(store, [crops])
    seen = []
    run(store, [crops], progress=lambda done, total, report: seen.append((done, total)))
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)


def test_a_stop_ends_the_run_early_and_keeps_what_is_done(store, crops):
    stop = threading.Event()

    def progress(done, total, report):
        if done == 5:
            stop.set()

    report = run(store, [crops], progress=progress, stop=stop)
    assert report.interrupted and report.indexed == 5 and store.vectors.ntotal == 5
    assert run(store, [crops]).indexed == 25  # the next run goes on from there


def test_videos_and_other_files_are_counted_not_silently_skipped(tmp_path, sample):
    """Photos-only walks (crops, localize) count videos; the indexer's walk takes them. Phones'
    HEIC and AVIF photos are photos."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(next((sample / "crops" / "images").iterdir()), folder / "a.png")
    for name in ("clip.mp4", "clip2.MOV", "phone.HEIC", "phone2.avif", "notes.txt"):
        (folder / name).write_bytes(b"x")
    not_images: dict[str, int] = {}
    found = [p.name for p in iter_image_files([folder], not_images=not_images)]
    assert found == ["a.png", "phone.HEIC", "phone2.avif"]
    assert not_images == {".mp4": 1, ".mov": 1, ".txt": 1}
    not_media: dict[str, int] = {}
    found = [p.name for p in iter_image_files([folder], not_images=not_media, videos=True)]
    assert found == ["a.png", "clip.mp4", "clip2.MOV", "phone.HEIC", "phone2.avif"]
    assert not_media == {".txt": 1}


@pytest.mark.slow
def test_a_crop_keeps_the_reading_of_its_binarized_plate_image(crops):
    """Readings are the crop's own lines, the fine-tuned recognizer's reading of the crop and the
    recognizer's reading of the binarized image; without OCR none is made."""
    from platesearch.binarize import binarize
    from platesearch.localize import lit, read_plate_image
    from platesearch.smeared_text import smeared_text_reader
    from platesearch.textmatch import split_readings

    path = sorted(crops.iterdir())[0]
    job = ingest.Job(str(path), "0" * 64, path.stat().st_size, path.stat().st_mtime)
    prepared = Preparer(inputs_are_crops=True, ocr=True, max_pixels=DEFAULT_MAX_PIXELS)(job)
    (row,) = prepared.crops
    binarized_reading = read_plate_image(binarize(ingest.read_image(str(path))))
    assert binarized_reading and binarized_reading in split_readings(row.ocr_text)
    [fine_tuned_reading] = smeared_text_reader().read([lit(ingest.read_image(str(path)))])
    assert fine_tuned_reading and fine_tuned_reading in split_readings(row.ocr_text)
    (views,) = ingest.unpack_plates(prepared.plate_bits)
    assert views.shape == (VIEWS, 64, 512) and np.array_equal(views[0], binarize(ingest.read_image(str(path))))
    (unread,) = Preparer(inputs_are_crops=True, ocr=False, max_pixels=DEFAULT_MAX_PIXELS)(job).crops
    assert unread.ocr_text is None


def test_plate_views_travel_bit_packed_and_come_back_the_same(sample):
    views = [crop_views(ingest.read_image(str(p))) for p in sorted((sample / "crops" / "images").iterdir())[:3]]
    bits = ingest.pack_plates(views)
    assert bits.shape == (3, VIEWS * 4096) and bits.nbytes * 8 == sum(i.nbytes for v in views for i in v)
    assert np.array_equal(ingest.unpack_plates(bits), np.stack([np.stack(v) for v in views]))
    assert ingest.unpack_plates(ingest.pack_plates([])).shape == (0, VIEWS, 64, 512)


def test_a_crop_is_stored_as_the_mean_of_its_views_embedded(store, crops):
    """The vector stored for a crop is the normalized mean of its VIEWS images' embeddings,
    each crop's own views, in file order."""
    seen = []

    def embed(images: np.ndarray) -> np.ndarray:
        seen.append(images)
        return fake_embed(images)

    preparer = Preparer(inputs_are_crops=True, ocr=False, max_pixels=DEFAULT_MAX_PIXELS)
    Ingest(ShardSet(store.directory, [store]), embed, DIM).run(list(iter_image_files([crops])), preparer, 0)
    images = np.concatenate(seen)
    files = sorted(crops.iterdir())
    assert len(images) == VIEWS * len(files)
    for i in (0, len(files) - 1):  # the first and the last crop's views come in order, together
        assert np.array_equal(
            images[VIEWS * i : VIEWS * (i + 1)], np.stack(crop_views(ingest.read_image(str(files[i]))))
        )
    ids, stored = stored_vectors(store.vectors)
    expected = mean_of_views(np.concatenate([fake_embed(batch) for batch in seen]))
    assert np.allclose(stored[np.argsort(ids)], expected, atol=1e-6)  # crop ids are given in file order
