"""Search scoring and grouping on a hand-built store, with a fake embedder: no TensorFlow."""

import numpy as np
import pytest

from platesearch.catalog import PhotoRow
from platesearch.records import CropRow
from platesearch.search import SearchError, search_store
from platesearch.store import IndexStore

DIM = 4


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


QUERY = unit(1, 0, 0, 0)


def fake_embed(plate: str) -> np.ndarray:
    return QUERY


@pytest.fixture()
def store(make_store):
    return make_store(DIM)


def add(store: IndexStore, crops: list[tuple[str, np.ndarray, str | None]], box_height: int = 40) -> None:
    """One crop per (photo path, vector, reading); several entries may share a photo."""
    photos: dict[str, list[CropRow]] = {}
    for path, _, reading in crops:
        photos.setdefault(path, []).append(CropRow((0, 0, 80, box_height), reading, 0.9 if reading else None))
    rows = [PhotoRow(path, f"{n:064x}", 1, 0.0, found) for n, (path, found) in enumerate(photos.items())]
    vectors = np.stack([vector for path in photos for p, vector, _ in crops if p == path])
    store.add_batch(rows, vectors, [], {})


def test_a_confident_exact_reading_beats_a_higher_cosine(store):
    add(store, [("/near.jpg", unit(1, 0.1, 0, 0), "XY9876"), ("/read.jpg", unit(0.2, 1, 0, 0), "AB1234")])
    results = search_store(store, "AB1234", fake_embed, k=2, method="hybrid")
    assert [r.path for r in results] == ["/read.jpg", "/near.jpg"]
    assert results[0].reading == "AB1234" and results[0].ocr_confidence == 0.9
    embedding = search_store(store, "AB1234", fake_embed, k=2, method="embedding")
    assert [r.path for r in embedding] == ["/near.jpg", "/read.jpg"]  # the cosine alone orders the other way


@pytest.mark.parametrize(("box_height", "first"), [(40, "/misread.jpg"), (10, "/plate.jpg")])
def test_a_reading_of_small_text_weighs_less_than_the_embeddings_lead(make_store, box_height, first):
    """The EU frames' miss: the plate's own crop is the embedding's clear first but read with two
    characters lost; another plate is read two characters off. At 10 px tall both readings are
    guesswork and the cosine decides; at 40 px the readings are trusted as before."""
    store = make_store(DIM)
    plate_crop = ("/plate.jpg", unit(1, 0.62, 0, 0), "867A0")  # cosine 0.85
    misread_crop = ("/misread.jpg", unit(1, 0.91, 0, 0), "RK865AC")  # cosine 0.74
    add(store, [plate_crop, misread_crop], box_height)
    results = search_store(store, "RK867AD", fake_embed, k=2, method="hybrid")
    assert results[0].path == first


def test_a_photo_counts_once_with_its_best_crop(store):
    add(
        store,
        [
            ("/a.jpg", unit(1, 0, 0, 0), None),
            ("/a.jpg", unit(1, 0.2, 0, 0), None),
            ("/b.jpg", unit(1, 0.5, 0, 0), None),
        ],
    )
    results = search_store(store, "AB1234", fake_embed, k=3, method="embedding")
    assert [r.path for r in results] == ["/a.jpg", "/b.jpg"]
    assert results[0].score == pytest.approx(1.0)


def test_catalog_rows_are_read_for_the_head_of_the_ranking_only(store, monkeypatch):
    busy = [("/busy.jpg", unit(1, n / 100, 0, 0), "AB1234") for n in range(40)]  # one photo's crops rank first
    far = [(f"/far{n}.jpg", unit(0, 0, 1, n / 100), "ZZ0000") for n in range(30)]
    add(store, [*busy, ("/other.jpg", unit(1, 1, 0, 0), "AB1239"), *far])
    asked: list[int] = []
    crops = store.catalog.crops
    monkeypatch.setattr(store.catalog, "crops", lambda ids: asked.extend(ids) or crops(ids))
    results = search_store(store, "AB1234", fake_embed, k=2, method="hybrid")
    assert [r.path for r in results] == ["/busy.jpg", "/other.jpg"]  # found past the first rows read
    assert results[1].reading == "AB1239"
    assert len(asked) == 48 and len(set(asked)) == 48  # 3 steps of 16 of the 71 candidates, none twice
    asked.clear()
    assert [r.path for r in search_store(store, "AB1234", fake_embed, k=1)] == ["/busy.jpg"]
    assert len(asked) == 16  # one step


def test_ocr_ranks_confusable_readings_above_other_substitutions(store):
    add(store, [("/other.jpg", unit(0, 1, 0, 0), "AB1X34"), ("/confusable.jpg", unit(0, 0, 1, 0), "A81234")])
    results = search_store(store, "AB1234", fake_embed, k=2, method="ocr")
    assert [r.path for r in results] == ["/confusable.jpg", "/other.jpg"]


def test_an_index_without_readings_answers_hybrid_by_embedding_and_refuses_ocr(store):
    add(store, [("/far.jpg", unit(0, 1, 0, 0), None), ("/near.jpg", unit(1, 0.1, 0, 0), None)])
    hybrid = search_store(store, "AB1234", fake_embed, k=2, method="hybrid")
    embedding = search_store(store, "AB1234", fake_embed, k=2, method="embedding")
    assert [(r.path, r.score) for r in hybrid] == [(r.path, r.score) for r in embedding]
    assert hybrid[0].path == "/near.jpg"
    with pytest.raises(SearchError, match="no OCR readings"):
        search_store(store, "AB1234", fake_embed, k=2, method="ocr")


def test_unknown_method_is_refused(store):
    with pytest.raises(ValueError, match="unknown search method"):
        search_store(store, "AB1234", fake_embed, method="cosine")


def test_a_pattern_ranks_matching_readings_first_and_says_what_matched(store):
    from platesearch.patterns import PlatePattern
    from platesearch.search import search_pattern

    add(
        store,
        [
            ("/near.jpg", unit(1, 0, 0, 0), "XY7350"),
            ("/match.jpg", unit(0, 1, 0, 0), "AB7353CD"),
            ("/none.jpg", unit(0, 0, 1, 0), None),
        ],
    )
    results = search_pattern(store, PlatePattern.containing("7353"), fake_embed, k=3)
    assert results[0].path == "/match.jpg" and results[0].score >= 0.5
    assert results[0].matched == "[AB]7353[CD]" and results[0].reading == "AB7353CD"
    assert all(r.score < 0.5 for r in results[1:])


def test_a_single_unknown_character_is_searched_by_embedding_too(store):
    from platesearch.patterns import PlatePattern
    from platesearch.search import search_pattern

    add(store, [("/unread.jpg", unit(1, 0, 0, 0), None), ("/other.jpg", unit(0, 0, 1, 0), "QQQ999")])
    embedded: list[str] = []

    def embed(plate: str) -> np.ndarray:
        embedded.append(plate)
        return QUERY if plate == "AB712" else unit(0, 1, 0, 0)

    results = search_pattern(store, PlatePattern.parse("AB?12"), embed, k=2)
    assert len(embedded) == 36 and results[0].path == "/unread.jpg" and results[0].score == pytest.approx(0.5)


def test_a_time_window_keeps_the_photos_taken_inside_it_and_results_say_when(store):
    from platesearch.patterns import PlatePattern
    from platesearch.records import TimeWindow
    from platesearch.search import search_pattern

    rows = [
        PhotoRow(f"/{day}.jpg", f"{n:064x}", 1, 0.0, [CropRow((0, 0, 10, 5), "AB1234", 0.9)], taken)
        for n, (day, taken) in enumerate([("march", "2026-03-01T08:00:00"), ("may", "2026-05-01T08:00:00")])
    ]
    store.add_batch(rows, np.stack([QUERY, QUERY]), [], {})
    everything = search_store(store, "AB1234", fake_embed, k=3)
    assert {r.path for r in everything} == {"/march.jpg", "/may.jpg"}
    assert {r.to_json()["taken_at"] for r in everything} == {"2026-03-01T08:00:00", "2026-05-01T08:00:00"}
    april_on = TimeWindow.parse("2026-04-01", None)
    assert [r.path for r in search_store(store, "AB1234", fake_embed, k=3, window=april_on)] == ["/may.jpg"]
    march = TimeWindow.parse("2026-03-01", "2026-03-01")  # a bare date as `until`: to the end of that day
    assert [r.path for r in search_store(store, "AB1234", fake_embed, k=3, window=march)] == ["/march.jpg"]
    pattern = search_pattern(store, PlatePattern.parse("AB*"), fake_embed, 3, march)
    assert [r.path for r in pattern] == ["/march.jpg"]


def test_time_windows_parse_what_users_type_and_refuse_the_rest():
    from platesearch.records import TimeWindow

    assert TimeWindow.parse("2026-03-01", "2026-03-02") == TimeWindow("2026-03-01T00:00:00", "2026-03-02T23:59:59")
    assert TimeWindow.parse("2026-03-01T14:30", None).since == "2026-03-01T14:30:00"
    assert not TimeWindow.parse("2026-03-01", None).holds(None)  # a photo with no known time is outside a window
    assert TimeWindow().holds(None)
    for since, until in (("yesterday", None), ("2026-03-02", "2026-03-01")):
        with pytest.raises(ValueError):
            TimeWindow.parse(since, until)


def test_a_video_counts_once_per_sighting_and_results_say_when(store):
    from platesearch.records import Sighting

    first_pass, second_pass = Sighting(0, 1.0, 4.5), Sighting(1, 60.0, 62.0)
    frames = [(1.0, first_pass), (2.5, first_pass), (4.5, first_pass), (60.5, second_pass), (61.0, second_pass)]
    crops = [CropRow((0, 0, 10, 5), "AB1234", 0.9, time, sighting) for time, sighting in frames]
    video = PhotoRow("/street.mp4", "1" * 64, 1, 0.0, crops)
    photo = PhotoRow("/car.jpg", "2" * 64, 1, 0.0, [CropRow((0, 0, 10, 5), "AB1234", 0.9)])
    vectors = [unit(1, 0.3, 0, 0), unit(1, 0, 0, 0), unit(1, 0.3, 0, 0), unit(1, 0.1, 0, 0), unit(1, 0.4, 0, 0)]
    store.add_batch([video, photo], np.stack([*vectors, unit(1, 0.2, 0, 0)]), [], {})
    results = search_store(store, "AB1234", fake_embed, k=5, method="embedding")
    assert [(r.path, r.time) for r in results] == [("/street.mp4", 2.5), ("/street.mp4", 60.5), ("/car.jpg", None)]
    best = results[0].to_json()
    assert (best["time"], best["first"], best["last"]) == (2.5, 1.0, 4.5)  # the best frame, inside its sighting
    assert "time" not in results[2].to_json()  # a photo has no time in its video
