"""The facade on real data with the shipped model: index, query, persist, refuse."""

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.datasets import load_dataset
from platesearch.model import default_embedder
from platesearch.pipeline import PlateIndex
from platesearch.store import IndexManifest, IndexStore, IndexStoreError
from platesearch.textmatch import confusable_canonical

# Measured with the shipped model on the 30 bundled crops (held-out plates): 29 of 30 at rank 1.
CROPS_TOP1_FLOOR = 0.9


@pytest.fixture(scope="module")
def crops_index(sample_crops_index, sample):
    return sample_crops_index, load_dataset(sample / "crops")


def test_queries_find_their_crop_at_rank_1(crops_index):
    directory, dataset = crops_index
    with PlateIndex.open(directory) as plate_index:
        hits = sum(plate_index.search(item.plate, k=3)[0].path == str(item.path.absolute()) for item in dataset.items)
    assert hits / len(dataset.items) >= CROPS_TOP1_FLOOR


def test_results_are_ranked_photos(crops_index):
    directory, dataset = crops_index
    with PlateIndex.open(directory) as plate_index:
        results = plate_index.search(dataset.items[0].plate, k=5)
    assert [r.rank for r in results] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(results, results[1:], strict=False))
    assert len({r.path for r in results}) == 5


def test_incremental_add_does_not_duplicate(crops_index, tmp_path):
    directory, dataset = crops_index
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    with PlateIndex.create(copy) as plate_index:
        before = plate_index.stats()
        report = plate_index.add([item.path for item in dataset.items[:5]], crops=True)
        assert report.skipped == 5 and report.indexed == 0
        assert plate_index.stats()["crops"] == before["crops"] == before["vectors"]


def test_reopening_gives_identical_results(crops_index):
    directory, dataset = crops_index
    with PlateIndex.open(directory) as first:
        a = [first.search(item.plate, k=3) for item in dataset.items[:5]]
    with PlateIndex.open(directory) as second:
        b = [second.search(item.plate, k=3) for item in dataset.items[:5]]
    assert a == b


def test_remove_forgets_a_photo(crops_index, tmp_path):
    directory, dataset = crops_index
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    target = dataset.items[0]
    with PlateIndex.create(copy) as plate_index:
        assert plate_index.remove([target.path]) == 1
        assert all(r.path != str(target.path.absolute()) for r in plate_index.search(target.plate, k=10))
        stats = plate_index.stats()
        assert stats["crops"] == stats["vectors"] == len(dataset.items) - 1


def test_other_model_is_refused(tmp_path):
    embedder = default_embedder()
    other = IndexManifest("0" * 64, embedder.dim, "binarize-v1")
    IndexStore.create_or_open(tmp_path / "foreign", other).close()
    with pytest.raises(IndexStoreError, match="re-index"):
        PlateIndex.open(tmp_path / "foreign")
    with pytest.raises(IndexStoreError, match="re-index"):
        PlateIndex.create(tmp_path / "foreign")


def test_second_writer_is_refused(tmp_path):
    with PlateIndex.create(tmp_path / "locked"):
        with pytest.raises(IndexStoreError, match="another platesearch process"):
            PlateIndex.create(tmp_path / "locked")
        with PlateIndex.open(tmp_path / "locked") as reader:  # readers are welcome meanwhile
            assert reader.stats()["photos"] == 0


def test_open_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexStoreError, match="not a platesearch index"):
        PlateIndex.open(tmp_path / "nothing")


def test_cli_query_json_schema(crops_index):
    directory, dataset = crops_index
    result = CliRunner().invoke(
        app, ["query", dataset.items[1].plate.lower(), "--index", str(directory), "-k", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert (
            {"rank", "path", "score", "box"}
            <= set(row)
            <= {"rank", "path", "score", "box", "reading", "ocr_confidence", "taken_at"}
        )
        assert ("ocr_confidence" in row) <= ("reading" in row)
        assert datetime.fromisoformat(row["taken_at"]).tzinfo is None  # local time, to the second
        assert row["path"].startswith("/") and isinstance(row["score"], float)
        assert len(row["box"]) == 4 and all(isinstance(v, int) for v in row["box"])


@pytest.mark.parametrize("text,code", [("", 2), ("A" * 13, 2), ("AB#12", 2)])
def test_cli_query_rejects_bad_text(crops_index, text, code):
    directory, _ = crops_index
    result = CliRunner().invoke(app, ["query", text, "--index", str(directory)])
    assert result.exit_code == code
    assert "error:" in result.output


def test_cli_sheet_is_a_png(crops_index, tmp_path):
    directory, dataset = crops_index
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(
        app, ["query", dataset.items[2].plate, "--index", str(directory), "--sheet", str(sheet)]
    )
    assert result.exit_code == 0, result.output
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_phones_heic_photo_is_indexed_and_found(tmp_path, sample):
    """A HEIC photo (tests/data: a sample photo stored turned, as phones store it), beside two
    other photos, is indexed and answers its plate's query first, read as that plate."""
    folder = tmp_path / "phone"
    folder.mkdir()
    heic = folder / "IMG_0001.HEIC"
    shutil.copy(Path(__file__).parent / "data" / "eu-test_003-turned.heic", heic)
    for name in ("eu-test_005.jpg", "br-JIY4434.jpg"):
        shutil.copy(sample / "photos" / "images" / name, folder / name)
    indexed = CliRunner().invoke(app, ["index", str(folder), "--index", str(tmp_path / "idx")])
    assert indexed.exit_code == 0, indexed.output
    assert "indexed 3 images " in indexed.output
    found = CliRunner().invoke(app, ["query", "SI819AK", "--index", str(tmp_path / "idx"), "--json"])
    assert found.exit_code == 0, found.output
    first = json.loads(found.stdout)[0]
    assert first["path"] == str(heic)
    assert confusable_canonical(first["reading"]) == confusable_canonical("SI819AK")  # S1819AK: 1 for I


def test_failed_files_are_recorded_and_the_run_goes_on(tmp_path, sample):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    shutil.copy(next((sample / "crops" / "images").iterdir()), folder / "good.png")
    result = CliRunner().invoke(app, ["index", str(folder), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 1  # something failed
    assert "indexed 1 image " in result.output and "failed 2" in result.output
    with PlateIndex.open(tmp_path / "idx") as plate_index:
        failures = dict(plate_index.failures())
    assert set(failures) == {str(folder / "empty.jpg"), str(folder / "text.png")}
    assert all("not an image" in reason for reason in failures.values())


def test_changed_file_replaces_its_old_crops(tmp_path, sample):
    import cv2

    folder = tmp_path / "photos"
    folder.mkdir()
    source = sorted((sample / "crops" / "images").iterdir())
    target = folder / "plate.png"
    target.write_bytes(source[0].read_bytes())
    with PlateIndex.create(tmp_path / "idx") as plate_index:
        plate_index.add([folder], crops=True)
        target.write_bytes(source[1].read_bytes())  # same path, new content
        assert plate_index.add([folder], crops=True).indexed == 1
        stats = plate_index.stats()
        assert stats["photos"] == stats["crops"] == stats["vectors"] == 1
        cv2.imwrite(str(folder / "tiny.png"), np.zeros((1, 1, 3), np.uint8))  # too small to binarize
        report = plate_index.add([folder], crops=True)
        assert [path.endswith("tiny.png") for path, _ in report.failed] == [True]
        target.write_bytes(b"now corrupt")  # an indexed file that no longer reads
        plate_index.add([folder], crops=True)
        stats = plate_index.stats()
        assert stats["photos"] == stats["crops"] == stats["vectors"] == 0 and stats["failed"] == 2


def test_duplicate_files_are_indexed_once(tmp_path, sample):
    folder = tmp_path / "dupes"
    folder.mkdir()
    crop = next((sample / "crops" / "images").iterdir()).read_bytes()
    for name in ("a.png", "b.png", "c.png"):
        (folder / name).write_bytes(crop)
    with PlateIndex.create(tmp_path / "idx") as plate_index:
        report = plate_index.add([folder], crops=True)
    assert report.indexed == 1 and report.skipped == 2


def test_paths_are_recorded_normalized(tmp_path, sample, monkeypatch):
    folder = tmp_path / "a" / "photos"
    folder.mkdir(parents=True)
    (folder / "p.png").write_bytes(next((sample / "crops" / "images").iterdir()).read_bytes())
    monkeypatch.chdir(tmp_path / "a")
    with PlateIndex.create(tmp_path / "idx") as plate_index:
        plate_index.add(["../a/photos"], crops=True)  # relative, with ..
        assert plate_index.indexed_path(folder / "p.png") == str(folder / "p.png")
        assert plate_index.remove(["photos/p.png"]) == 1  # another spelling of the same file


def test_index_format_is_json_sqlite_and_faiss_only(crops_index):
    import sqlite3

    import faiss

    directory, _ = crops_index
    names = {p.name for p in directory.iterdir()}
    assert {"manifest.json", "catalog.sqlite", "vectors.faiss"} <= names
    segments = {name for name in names if re.fullmatch(r"vectors-\d{6}\.faiss", name)}  # one per later commit
    assert names - segments <= {
        "manifest.json",
        "catalog.sqlite",
        "vectors.faiss",
        "write.lock",
        "catalog.sqlite-wal",
        "catalog.sqlite-shm",
    }
    assert set(json.loads((directory / "manifest.json").read_text())) == {
        "model_sha256",
        "embedding_dim",
        "preprocessing_version",
        "format_version",
        "vector_index",
    }
    assert sqlite3.connect(directory / "catalog.sqlite").execute("SELECT COUNT(*) FROM crops").fetchone()[0] > 0
    assert faiss.read_index(str(directory / "vectors.faiss")).ntotal > 0
    for path in directory.iterdir():  # no pickle stream anywhere (protocol 2+ starts with 0x80)
        assert not path.read_bytes().startswith(b"\x80"), path


def test_cli_convert_to_ivf_keeps_the_results(crops_index, tmp_path, monkeypatch):
    from platesearch import vectors

    monkeypatch.setattr(vectors, "MIN_IVF_VECTORS", 1)  # the 30 sample crops make a one-list IVF: exact results
    directory, dataset = crops_index
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    plates = [item.plate for item in dataset.items[:5]]
    with PlateIndex.open(copy) as plate_index:
        before = [plate_index.search(p, k=3, method="embedding") for p in plates]
    result = CliRunner().invoke(app, ["convert", "--index", str(copy), "--to", "ivf"])
    assert result.exit_code == 0, result.output
    assert "vector index: ivf (choice: ivf)" in result.output
    with PlateIndex.open(copy) as plate_index:
        assert plate_index.stats()["vector_index"] == "ivf (choice: ivf)"
        after = [plate_index.search(p, k=3, method="embedding") for p in plates]
    assert [[r.path for r in rs] for rs in after] == [[r.path for r in rs] for rs in before]
    assert np.allclose([[r.score for r in rs] for rs in after], [[r.score for r in rs] for rs in before], atol=1e-5)
    bad = CliRunner().invoke(app, ["convert", "--index", str(copy), "--to", "hnsw"])
    assert bad.exit_code == 2


def test_parallel_indexing_matches_in_process(tmp_path, sample):
    """8 of the sample crops (each read twice here: in process and in 2 workers; the video test
    takes 1 worker), and a corrupt file."""
    folder = tmp_path / "crops"
    folder.mkdir()
    items = load_dataset(sample / "crops").items[:8]
    for item in items:
        shutil.copy(item.path, folder / item.path.name)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    plates = [item.plate for item in items]
    found = {}
    for workers in (0, 2):
        with PlateIndex.create(tmp_path / f"index-{workers}") as plate_index:
            report = plate_index.add([folder], crops=True, workers=workers)
            assert report.indexed == 8 and [p.rsplit("/", 1)[-1] for p, _ in report.failed] == ["corrupt.jpg"]
            assert all(report.seconds[stage] > 0 for stage in ("hash", "decode", "binarize", "embed", "add", "commit"))
            assert plate_index.stats()["failed"] == 1
            found[workers] = [plate_index.search(p, k=3, method="embedding") for p in plates]
    assert [[r.path for r in rs] for rs in found[0]] == [[r.path for r in rs] for rs in found[2]]
    scores = {workers: [r.score for rs in found[workers] for r in rs] for workers in (0, 2)}  # the same paths: flat
    assert np.allclose(scores[0], scores[2], atol=1e-4)


def test_a_folder_that_is_not_an_index_is_never_written_into(tmp_path):
    """`index --index photos/ my-index` (arguments swapped) must not turn the photos into an index."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "car.jpg").write_bytes(b"not really a photo")
    embedder = default_embedder()
    with pytest.raises(IndexStoreError, match="not a platesearch index"):
        PlateIndex.create(photos, embedder)
    assert sorted(p.name for p in photos.iterdir()) == ["car.jpg"]
    PlateIndex.create(tmp_path / "empty-is-fine", embedder).close()
    (tmp_path / "new").mkdir()
    PlateIndex.create(tmp_path / "new", embedder).close()
