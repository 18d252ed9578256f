"""The in-memory readings of a long-running reader: the same candidates and rankings as the catalog's."""

import random

import numpy as np
import pytest

from platesearch import readings_index
from platesearch.catalog import PhotoRow
from platesearch.readings_index import ReadingsIndex
from platesearch.records import CropRow
from platesearch.search import search_store
from platesearch.store import IndexManifest, IndexStore

DIM = 4
MANIFEST = IndexManifest("0" * 64, DIM, "test")


def test_a_crop_is_a_candidate_when_one_of_its_readings_holds_a_trigram_of_the_plate():
    readings = ReadingsIndex([(50, "AB123 XY"), (20, "ab1 ZZZ9"), (90, None), (70, "Q-12AB"), (30, "")])
    found = readings.candidates("AB123", every_reading=False)
    assert found.crop_ids.tolist() == [20, 50]  # ascending; "ab1" matches case-folded, as SQLite's tokenizer does
    assert [found.crop_ids[o] for o in found.owners] == [20, 20, 50, 50]
    assert found.readings == ["ab1", "ZZZ9", "AB123", "XY"]
    assert readings.candidates("12A", every_reading=False).readings == ["Q-12AB"]  # "-" breaks only its own trigrams
    assert readings.candidates("Q12", every_reading=False).readings == []  # no trigram spans the "-"
    assert readings.candidates("9XY", every_reading=False).readings == []  # nor two readings or two crops
    assert readings.candidates("AB", every_reading=False).readings == []
    assert readings.candidates("AB", every_reading=True).crop_ids.tolist() == [20, 50, 70]
    assert readings.stored_readings([90, 50, 30, 70, 1]) == {50: "AB123 XY", 70: "Q-12AB"}
    empty = ReadingsIndex([])
    assert len(empty) == 0 and empty.candidates("ABC123", every_reading=False).readings == []
    assert empty.candidates("ABC123", every_reading=True).readings == []
    assert empty.stored_readings([1, 2]) == {}


def _random_readings(rng: random.Random, count: int) -> list[str | None]:
    """Plate-like readings that share characters often: 1-3 per crop, some lowercase or with a stray symbol."""
    plates = ["".join(rng.choice("ABC0123456789") for _ in range(rng.randint(2, 8))) for _ in range(200)]
    texts = []
    for _ in range(count):
        parts = [rng.choice(plates) for _ in range(rng.randint(1, 3))]
        parts = [p.lower() if rng.random() < 0.1 else p + "-" if rng.random() < 0.1 else p for p in parts]
        texts.append(" ".join(dict.fromkeys(parts)) if rng.random() < 0.95 else None)
    return texts


def _fill(store: IndexStore, texts: list[str | None], first: int = 0) -> None:
    rng = np.random.default_rng(first)
    vectors = rng.normal(size=(len(texts), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    photos = [
        PhotoRow(f"/p/{first + i}.jpg", f"{first + i:064x}", 1, 0.0, [CropRow((0, 0, 9, 3), text, 0.5)])
        for i, text in enumerate(texts)
    ]
    store.add_batch(photos, vectors, [], {})


@pytest.fixture(scope="module")
def large_index(tmp_path_factory):
    """A store above the full-scan limit, so the catalog answers by trigram."""
    directory = tmp_path_factory.mktemp("readings") / "index"
    store = IndexStore.create_or_open(directory, MANIFEST)
    _fill(store, _random_readings(random.Random(3), 2_500))
    store.remove(["/p/7.jpg", "/p/1000.jpg"])
    store.close()
    return directory


def test_in_memory_candidates_equal_the_catalogs(large_index):
    catalog = IndexStore.open_readonly(large_index, MANIFEST)
    memory = IndexStore.open_readonly(large_index, MANIFEST, readings_in_memory=True)
    rng = random.Random(5)
    queries = ["AB", "", "abc123", *("".join(rng.choice("ABC0123456789") for _ in range(7)) for _ in range(60))]
    for plate in queries:
        for limit in (0, 10_000):  # by trigram; every reading
            expected, found = catalog.candidate_readings(plate, limit), memory.candidate_readings(plate, limit)
            assert found.crop_ids.tolist() == expected.crop_ids.tolist(), (plate, limit)
            assert found.owners.tolist() == expected.owners.tolist() and found.readings == expected.readings
    for _ in range(20):  # ids with readings, without, removed and never stored, in any order
        ids = [int(memory.visible_ids.ids[0]) + n for n in rng.sample(range(-5, 2_600), 200)]
        stored = memory.stored_readings(ids)
        assert stored == catalog.stored_readings(ids) and 150 < len(stored) < 200
    by_trigram = [len(memory.candidate_readings(plate, 0).crop_ids) for plate in queries]
    assert sum(n > 20 for n in by_trigram) > 40 and max(by_trigram) < 2_000  # candidates, and not every crop
    catalog.close()
    memory.close()


def test_searches_from_memory_rank_as_searches_from_the_catalog(large_index):
    catalog = IndexStore.open_readonly(large_index, MANIFEST)
    memory = IndexStore.open_readonly(large_index, MANIFEST, readings_in_memory=True)
    rng = random.Random(8)
    embed = lambda plate: np.ones(DIM, np.float32) / 2  # noqa: E731
    found_by_reading = 0
    for _ in range(30):
        plate = "".join(rng.choice("ABC0123456789") for _ in range(6))
        for method in ("hybrid", "ocr"):
            expected = search_store(catalog, plate, embed, k=10, method=method)
            assert search_store(memory, plate, embed, k=10, method=method) == expected
            found_by_reading += method == "ocr" and len(expected) == 10
    assert found_by_reading >= 20
    catalog.close()
    memory.close()


def test_a_reader_keeping_readings_in_memory_sees_its_snapshot(tmp_path):
    writer = IndexStore.create_or_open(tmp_path / "index", MANIFEST)
    _fill(writer, ["ABC123", "XYZ789"])
    reader = IndexStore.open_readonly(tmp_path / "index", MANIFEST, readings_in_memory=True)
    _fill(writer, ["ABC999"], first=2)  # committed after the reader opened: loaded with the readings, not shown
    assert reader.candidate_readings("ABC123", 0).readings == ["ABC123"]
    reader.close()
    fresh = IndexStore.open_readonly(tmp_path / "index", MANIFEST, readings_in_memory=True)
    assert fresh.candidate_readings("ABC123", 0).readings == ["ABC123", "ABC999"]
    fresh.close()
    writer.close()


def test_building_in_chunks_gives_the_same_index(monkeypatch):
    rows = list(enumerate(_random_readings(random.Random(11), 300)))
    whole = ReadingsIndex(rows)
    monkeypatch.setattr(readings_index, "BUILD_CHUNK", 7)  # trigrams straddle every chunk boundary
    chunked = ReadingsIndex(rows)
    assert np.array_equal(whole.trigram_starts, chunked.trigram_starts)
    assert np.array_equal(whole.trigram_crops, chunked.trigram_crops) and len(whole.trigram_crops) > 1_000
