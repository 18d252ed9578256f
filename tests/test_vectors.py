"""The approximate (IVF) vector index: recall against exact search, the automatic switch,
conversion from stored vectors, and the OCR trigram candidates of large indexes.

Random clustered vectors stand in for embeddings: no model is needed here.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from platesearch import catalog as catalog_module
from platesearch import vectors
from platesearch.catalog import PhotoRow
from platesearch.records import CropRow
from platesearch.store import IndexManifest, IndexStore

DIM = 32


def clustered(count: int, seed: int = 0, centres: int = 200) -> np.ndarray:
    """Unit vectors around random centres, like several sightings of each plate."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(centres, DIM))
    points = base[rng.integers(0, centres, count)] + rng.normal(scale=0.3, size=(count, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def recall_at(k: int, approximate, exact, queries: np.ndarray) -> float:
    _, found = approximate.search(queries, k)
    _, truth = exact.search(queries, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth, strict=True)]))


# 8-bit codes alone swap near ties among a cluster's neighbours (0.980 here, 32-d); IVF-SQ8's
# 2-bit error codes re-rank them (0.9945 here); the 1M-crop figures are in BENCHMARKS.md.
@pytest.mark.parametrize("kind", [vectors.IVF, vectors.IVF_SQ8])
def test_ivf_recall_against_exact_search(kind):
    points = clustered(20_000)
    ids = np.arange(100, 100 + len(points))
    exact = vectors.build(vectors.EXACT, ids, points, DIM)
    ivf = vectors.build(kind, ids, points, DIM)
    assert vectors.kind_of(ivf) == kind and ivf.nlist == vectors.nlist_for(len(points))
    queries = clustered(200, seed=1)
    assert recall_at(10, ivf, exact, queries) >= 0.99


def test_sq8_refinement_is_what_lifts_recall():
    points = clustered(20_000)
    ids = np.arange(len(points))
    exact = vectors.build(vectors.EXACT, ids, points, DIM)
    sq8 = vectors.build(vectors.IVF_SQ8, ids, points, DIM)
    queries = clustered(200, seed=1)
    assert recall_at(10, sq8.ivf, exact, queries) < recall_at(10, sq8, exact, queries)  # 8-bit codes alone


def test_sq8_stores_a_byte_and_a_quarter_per_dimension_and_converts_back_closely():
    points = clustered(5_000)
    ids = np.random.default_rng(2).permutation(50_000)[:5_000]
    flat = vectors.build(vectors.IVF, ids, points, DIM)
    sq8 = vectors.convert(flat, vectors.IVF_SQ8)
    assert sq8.ivf.code_size == DIM and sq8.codes.shape == (5_000, DIM // 4) and flat.code_size == 4 * DIM
    got_ids, got_vectors = vectors.stored_vectors(vectors.convert(sq8, vectors.EXACT))
    order = np.argsort(got_ids)
    assert np.array_equal(got_ids[order], np.sort(ids))
    error = np.abs(got_vectors[order] - points[np.argsort(ids)]).max()
    assert error < 0.001 < np.abs(sq8.ivf.reconstruct_batch(np.sort(ids)) - points[np.argsort(ids)]).max()


def test_sq8_file_round_trip_removal_and_the_older_plain_file(tmp_path):
    points = clustered(5_000)
    ids = np.arange(10, 5_010)
    sq8 = vectors.build(vectors.IVF_SQ8, ids, points, DIM)
    queries = clustered(20, seed=3)
    path = tmp_path / "vectors.faiss"
    path.write_bytes(vectors.serialize(sq8))
    again = vectors.read(str(path))
    assert vectors.kind_of(again) == vectors.IVF_SQ8
    assert np.array_equal(again.search(queries, 10)[1], sq8.search(queries, 10)[1])
    assert again.remove_ids(np.concatenate([ids[:100], [10**9]])) == 100  # an id not stored is no error
    assert again.ntotal == len(again.ids) == 4_900
    assert not np.isin(ids[:100], again.search(points[:100], 10)[1]).any()
    again.add_with_ids(points[:100], ids[:100])
    assert np.allclose(again.reconstruct_batch(ids[:100]), sq8.reconstruct_batch(ids[:100]))
    again.remove_ids(ids)
    scores, found = again.search(queries, 3)  # empty: like FAISS, -1 ids
    assert found.shape == (20, 3) and (found == -1).all()
    path.write_bytes(vectors.serialize(sq8.ivf))  # an IVF-SQ8 file written before the error codes
    plain = vectors.prepare_for_search(vectors.read(str(path)))
    assert vectors.kind_of(plain) == vectors.IVF_SQ8 and plain.search(queries, 10)[1].shape == (20, 10)
    path.write_bytes(vectors.serialize(sq8)[:1_000])
    with pytest.raises(RuntimeError, match="damaged"):
        vectors.read(str(path))


def test_conversion_keeps_every_id_and_vector():
    points = clustered(5_000)
    ids = np.random.default_rng(2).permutation(50_000)[:5_000]  # sparse, unordered ids, as after removals
    exact = vectors.build(vectors.EXACT, ids, points, DIM)
    ivf = vectors.convert(exact, vectors.IVF)
    back = vectors.convert(ivf, vectors.EXACT)
    for index in (ivf, back):
        got_ids, got_vectors = vectors.stored_vectors(index)
        order = np.argsort(got_ids)
        assert np.array_equal(got_ids[order], np.sort(ids))
        assert np.array_equal(got_vectors[order], points[np.argsort(ids)])
    assert np.array_equal(ivf.reconstruct(int(ids[7])), points[7])  # by crop id, through the direct map


def test_choice_and_threshold():
    assert vectors.wanted_kind("auto", vectors.AUTO_IVF_THRESHOLD) == vectors.EXACT
    assert vectors.wanted_kind("auto", vectors.AUTO_IVF_THRESHOLD + 1) == vectors.IVF
    assert vectors.wanted_kind("exact", 10**7) == vectors.EXACT
    assert vectors.wanted_kind("ivf", vectors.MIN_IVF_VECTORS - 1) == vectors.EXACT
    assert vectors.wanted_kind("ivf", vectors.MIN_IVF_VECTORS) == vectors.IVF
    assert vectors.wanted_kind("ivf-sq8", vectors.MIN_IVF_VECTORS) == vectors.IVF_SQ8
    assert vectors.wanted_kind("ivf-sq8", vectors.MIN_IVF_VECTORS - 1) == vectors.EXACT
    with pytest.raises(ValueError, match="choose from"):
        vectors.wanted_kind("hnsw", 10)
    assert [vectors.nlist_for(n) for n in (1_000, 100_000, 1_000_000)] == [16, 1024, 4096]


def test_auto_keeps_ivf_until_half_the_threshold(monkeypatch):
    monkeypatch.setattr(vectors, "AUTO_IVF_THRESHOLD", 3_000)
    points = clustered(2_000)
    ivf = vectors.build(vectors.IVF, np.arange(2_000), points, DIM)
    assert vectors.rebuild_target(ivf, "auto") is None  # 2,000 >= 1,500: no flapping around 3,000
    ivf.remove_ids(np.arange(600))
    assert vectors.rebuild_target(ivf, "auto") == vectors.EXACT
    assert vectors.rebuild_target(ivf, "ivf") is None
    exact = vectors.build(vectors.EXACT, np.arange(3_001), clustered(3_001), DIM)
    assert vectors.rebuild_target(exact, "auto") == vectors.IVF
    grown = vectors.build(vectors.IVF, np.arange(5_000), clustered(5_000), DIM)  # 128 lists
    grown.add_with_ids(clustered(20_000, seed=4), np.arange(5_000, 25_000))  # now wants 512: re-train
    assert vectors.rebuild_target(grown, "ivf") == vectors.IVF


def _add(store: IndexStore, points: np.ndarray, start: int, texts: list[str] | None = None) -> None:
    photos = [
        PhotoRow(
            f"/photos/{start + i}.jpg",
            f"{start + i:064x}",
            1,
            0.0,
            [CropRow((0, 0, 1, 1), texts[i] if texts else None)],
        )
        for i in range(len(points))
    ]
    store.add_batch(photos, points, [], {})


def test_store_switches_to_ivf_above_the_threshold_and_back(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "AUTO_IVF_THRESHOLD", 3_000)
    manifest = IndexManifest("0" * 64, DIM, "test")
    points = clustered(4_000)
    store = IndexStore.create_or_open(tmp_path / "index", manifest)
    _add(store, points[:3_000], 0)
    assert vectors.kind_of(store.vectors) == vectors.EXACT
    _add(store, points[3_000:], 3_000)  # crosses the threshold: converted from the stored vectors
    assert vectors.kind_of(store.vectors) == vectors.IVF and store.vectors.ntotal == 4_000
    store.remove(["/photos/5.jpg"])
    store.close()

    reader = IndexStore.open_readonly(tmp_path / "index", manifest)
    assert vectors.kind_of(reader.vectors) == vectors.IVF and reader.vectors.nprobe == vectors.IVF_NPROBE
    first = min(reader.catalog.crop_ids())  # crop ids count up from a random base, in the order added
    ids = np.delete(np.arange(first, first + 4_000), 5)
    exact = vectors.build(vectors.EXACT, ids, np.delete(points, 5, axis=0), DIM)
    assert recall_at(10, reader.vectors, exact, clustered(100, seed=3)) >= 0.99
    assert reader.stats()["crops"] == reader.stats()["vectors"] == 3_999
    reader.close()

    store = IndexStore.create_or_open(tmp_path / "index", manifest)
    store.set_vector_index("exact")  # forced: converted back, and the choice is remembered
    assert vectors.kind_of(store.vectors) == vectors.EXACT and store.vectors.ntotal == 3_999
    store.close()
    reopened = IndexStore.open_readonly(tmp_path / "index", manifest)
    assert reopened.manifest.vector_index == "exact" and vectors.kind_of(reopened.vectors) == vectors.EXACT
    reopened.close()


def test_sq8_store_keeps_its_error_codes_through_segments_and_a_reader(tmp_path):
    manifest = IndexManifest("0" * 64, DIM, "test")
    points = clustered(3_000)
    store = IndexStore.create_or_open(tmp_path / "index", manifest)
    store.set_vector_index("ivf-sq8")
    _add(store, points[:2_000], 0)  # the base, refined
    _add(store, points[2_000:2_050], 2_000)  # a commit: a float segment beside it
    store.remove(["/photos/7.jpg"])
    store.close()
    reader = IndexStore.open_readonly(tmp_path / "index", manifest)
    assert (
        isinstance(reader.vectors, vectors.RefinedIVFSQ8) and reader.vectors.ntotal == len(reader.vectors.ids) == 2_049
    )
    first = min(reader.catalog.crop_ids())
    ids = np.delete(np.arange(first, first + 2_050), 7)
    exact = vectors.build(vectors.EXACT, ids, np.delete(points[:2_050], 7, axis=0), DIM)
    assert recall_at(10, reader.vectors, exact, clustered(100, seed=3)) >= 0.99
    segment_crop = int(ids[-1])  # searched through its error code, made when the segment was applied
    assert np.abs(reader.vectors.reconstruct(segment_crop) - points[2_049]).max() < 0.001
    reader.close()


def test_ocr_trigram_candidates_follow_inserts_and_removals(tmp_path):
    store = IndexStore.create_or_open(tmp_path / "index", IndexManifest("0" * 64, DIM, "test"))
    texts = ["ABC1234", "XBC1239", "ZZZ9999", "AB", "QQQ1234"]
    _add(store, clustered(len(texts)), 0, texts)
    by_trigram = lambda plate: sorted(t for _, t in store.ocr_readings(plate, full_scan_limit=0))  # noqa: E731
    assert by_trigram("ABC1234") == ["ABC1234", "QQQ1234", "XBC1239"]
    assert sorted(t for _, t in store.ocr_readings("ABC1234")) == sorted(texts)  # small store: every reading
    assert sorted(t for _, t in store.ocr_readings("AB")) == sorted(texts)
    assert store.ocr_readings("AB", full_scan_limit=0) == []  # no trigram: a large store scores no reading
    store.remove(["/photos/0.jpg"])  # photo deleted, its crop cascades, the trigger updates the text index
    assert by_trigram("ABC1234") == ["QQQ1234", "XBC1239"]
    store.close()


def test_index_made_before_the_text_index_gets_it_on_open(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_module, "TEXT_SCHEMA", "")  # an index as the previous version wrote it
    monkeypatch.setattr(catalog_module.Catalog, "_create_text_index", lambda self: None)
    store = IndexStore.create_or_open(tmp_path / "index", IndexManifest("0" * 64, DIM, "test"))
    _add(store, clustered(2), 0, ["ABC1234", "DEF5678"])
    store.close()
    monkeypatch.undo()
    store = IndexStore.create_or_open(tmp_path / "index", IndexManifest("0" * 64, DIM, "test"))
    assert [t for _, t in store.ocr_readings("ABC1234", full_scan_limit=0)] == ["ABC1234"]
    store.close()


def test_cli_choices_mirror_the_library():
    from platesearch.cli.options import VectorIndexChoice

    assert tuple(c.value for c in VectorIndexChoice) == vectors.CHOICES


def test_one_thread_holds_faiss_to_one_thread_and_gives_the_pool_back():
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        with vectors.one_thread():
            assert faiss.omp_get_max_threads() == 1
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)
