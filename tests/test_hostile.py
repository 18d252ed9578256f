"""Hostile files and misuse (issue #19): nothing hangs, nothing is lost, nothing crashes with a traceback.

Each case builds its odd file in a temporary folder, or skips with the reason the machine cannot.
"""

import os
import shutil
import sys
from pathlib import Path

import faiss
import pytest
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.pipeline import PlateIndex
from platesearch.store import IndexStoreError

runner = CliRunner()


@pytest.fixture()
def three_crops(tmp_path, sample):
    folder = tmp_path / "crops"
    folder.mkdir()
    for path in sorted((sample / "crops" / "images").iterdir())[:3]:
        shutil.copy(path, folder / path.name)
    return folder


def index_crops(paths, directory):
    with PlateIndex.create(directory) as plate_index:
        return plate_index.add(paths, crops=True, ocr=False)


def test_a_name_that_is_not_utf8_is_skipped_and_its_neighbours_indexed(three_crops, tmp_path):
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    odd = os.path.join(os.fsencode(three_crops), b"caf\xe9.png")
    shutil.copy(next(three_crops.iterdir()), odd.decode("utf-8", "surrogateescape"))
    report = index_crops([three_crops], tmp_path / "index")
    assert report.indexed == 3 and len(report.failed) == 1 and "not valid UTF-8" in report.failed[0][1]
    assert index_crops([three_crops], tmp_path / "index").skipped == 3  # a rerun does not crash either


def test_a_fifo_and_a_link_to_a_device_are_skipped_not_waited_for(three_crops, tmp_path):
    if not hasattr(os, "mkfifo") or not Path("/dev/zero").exists():
        pytest.skip("needs FIFOs and /dev/zero")
    os.mkfifo(three_crops / "pipe.png")
    (three_crops / "zero.jpg").symlink_to("/dev/zero")
    report = index_crops([three_crops, three_crops / "pipe.png"], tmp_path / "index")
    assert report.indexed == 3
    assert sorted(reason for _, reason in report.failed) == ["not a regular file (a pipe, device or socket)"] * 3


def test_a_single_path_is_one_path_not_its_characters(three_crops, tmp_path):
    one = next(three_crops.iterdir())
    assert index_crops(str(one), tmp_path / "index").indexed == 1


def test_a_read_only_handle_refuses_to_write(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    with PlateIndex.open(tmp_path / "index") as reader:
        with pytest.raises(IndexStoreError, match="read-only"):
            reader.add([three_crops], crops=True, ocr=False)
        with pytest.raises(IndexStoreError, match="read-only"):
            reader.remove([next(three_crops.iterdir())])
        with pytest.raises(IndexStoreError, match="read-only"):
            reader.set_vector_index("ivf")


def test_a_missing_vectors_file_is_reported_as_damage(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    (tmp_path / "index" / "vectors.faiss").unlink()
    result = runner.invoke(app, ["query", "AB1234", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2 and "damaged" in result.output and "vectors.faiss is missing" in result.output


@pytest.mark.parametrize("verb", [["remove", "/x.jpg"], ["convert", "--to", "ivf"]])
def test_changing_verbs_refuse_a_mistyped_index(tmp_path, verb):
    result = runner.invoke(app, [*verb, "--index", str(tmp_path / "typo")])
    assert result.exit_code == 2 and "not a platesearch index" in result.output
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("value", ["nan", "-5", "0", "inf"])
def test_bad_pixel_limits_are_refused(tmp_path, value):
    result = runner.invoke(app, ["index", str(tmp_path), "--index", str(tmp_path / "i"), "--max-megapixels", value])
    assert result.exit_code == 2 and "positive number" in result.output


def test_an_index_option_naming_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["index", str(tmp_path), "--index", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file, not an index folder" in result.output


def test_search_arguments_are_validated(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    with PlateIndex.open(tmp_path / "index") as plate_index:
        for k in (0, -1, 2.5):
            with pytest.raises(ValueError, match="k must be"):
                plate_index.search("AB1234", k=k)
        with pytest.raises(ValueError, match="ocr_weight"):
            plate_index.search("AB1234", ocr_weight=5)


def test_a_planted_link_at_the_temporary_vectors_file_is_not_followed(three_crops, tmp_path):
    index_crops(sorted(three_crops.iterdir())[:1], tmp_path / "index")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = [tmp_path / "index" / name for name in ("vectors.faiss.tmp", "vectors-000001.faiss.tmp")]
    for link in planted:  # the base's and the next commit's segment's temporary files
        link.symlink_to(victim)
    index_crops([three_crops], tmp_path / "index")
    assert victim.read_text() == "keep me"
    assert (tmp_path / "index" / "vectors-000001.faiss").is_file()
    assert not planted[1].exists()


@pytest.mark.parametrize("name", ["vectors.faiss", "catalog.sqlite", "manifest.json", "write.lock"])
def test_symlinked_index_files_are_refused(three_crops, tmp_path, name):
    index_crops([three_crops], tmp_path / "index")
    index_crops(sorted(three_crops.iterdir())[:1], tmp_path / "other")
    target = tmp_path / "index" / name
    if not target.exists():
        target.write_text("")
    moved = tmp_path / f"elsewhere-{name}"
    shutil.move(target, moved)
    target.symlink_to(moved)
    result = runner.invoke(app, ["stats", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2 and "symbolic link" in result.output


@pytest.mark.parametrize(
    "damage",
    [
        ("catalog.sqlite", b"this is not a database" * 100),
        ("vectors.faiss", b"\x00garbage" * 64),
        ("manifest.json", b"{not json"),
        ("manifest.json", b'{"model_sha256": "x"}'),
    ],
)
def test_damaged_index_files_give_one_clear_error(three_crops, tmp_path, damage):
    index_crops([three_crops], tmp_path / "index")
    name, content = damage
    (tmp_path / "index" / name).write_bytes(content)
    for verb in (["stats"], ["query", "AB1234"], ["index", str(three_crops), "--crops"]):
        result = runner.invoke(app, [*verb, "--index", str(tmp_path / "index")])
        assert result.exit_code == 2 and "damaged" in result.output and "Traceback" not in result.output, result.output


def test_an_index_from_a_newer_version_is_not_opened_or_rewritten(three_crops, tmp_path):
    import json

    index_crops([three_crops], tmp_path / "index")
    manifest = tmp_path / "index" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 999}))
    result = runner.invoke(app, ["index", str(three_crops), "--crops", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2 and "upgrade platesearch" in result.output
    assert json.loads(manifest.read_text())["format_version"] == 999


@pytest.mark.parametrize("name", ["sheet", "sheet.txt", "missing/sheet.png"])
def test_a_sheet_path_that_cannot_be_written_is_refused_before_the_search(three_crops, tmp_path, name):
    index_crops([three_crops], tmp_path / "index")
    result = runner.invoke(
        app, ["query", "AB1234", "--index", str(tmp_path / "index"), "--sheet", str(tmp_path / name)]
    )
    assert result.exit_code == 2 and "cannot write" in result.output
    assert not (tmp_path / f"{name}.png").exists()


def test_float_and_16_bit_images_keep_their_brightness(tmp_path):
    import numpy as np
    from PIL import Image

    from platesearch.media import read_image

    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (16, 1))
    Image.fromarray(ramp, mode="F").save(tmp_path / "unit.tif")
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    for name in ("unit.tif", "deep.png"):
        image = read_image(tmp_path / name)
        assert image[:, -1].min() >= 250 and image[:, 0].max() <= 5, name


def test_decoding_a_16_bit_png_allocates_a_few_bytes_per_pixel_not_float64_copies(tmp_path):
    import tracemalloc

    import numpy as np
    from PIL import Image

    from platesearch.media import read_image

    side = 2000
    ramp = np.tile(np.linspace(0, 65535, side).astype(np.uint16), (side, 1))
    Image.fromarray(ramp).save(tmp_path / "deep.png")  # compresses to a few KB
    tracemalloc.start()
    try:
        image = read_image(tmp_path / "deep.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.shape == (side, side, 3)
    # numpy's arrays: the 16-bit pixels, an 8-bit copy and the BGR result; a float64 copy
    # alone would be 8 bytes per pixel (the 194 KB PNG that took 3.6 GB per worker)
    assert peak / side**2 < 8, f"{peak / side**2:.1f} bytes per pixel"


def test_an_index_the_user_may_only_read_answers_queries(three_crops, tmp_path, monkeypatch):
    index_crops([three_crops], tmp_path / "index")
    with PlateIndex.open(tmp_path / "index") as plate_index:
        expected = [r.path for r in plate_index.search("AB1234", k=3, method="embedding")]
    monkeypatch.setattr(
        os, "access", lambda path, mode: mode != os.W_OK
    )  # as for a non-root reader of a read-only folder
    with PlateIndex.open(tmp_path / "index") as plate_index:
        assert [r.path for r in plate_index.search("AB1234", k=3, method="embedding")] == expected


def test_verify_finds_and_repairs_a_replaced_vectors_file(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    assert runner.invoke(app, ["verify", "--index", str(tmp_path / "index")]).exit_code == 0
    (tmp_path / "index" / "vectors.faiss").write_bytes(b"\x00garbage" * 64)
    found = runner.invoke(app, ["verify", "--index", str(tmp_path / "index")])
    assert found.exit_code == 1 and "cannot be read" in found.output and "--repair would" in found.output
    repaired = runner.invoke(app, ["verify", "--index", str(tmp_path / "index"), "--repair"])
    assert repaired.exit_code == 0 and "repaired" in repaired.output
    assert runner.invoke(app, ["verify", "--index", str(tmp_path / "index")]).exit_code == 0
    assert index_crops([three_crops], tmp_path / "index").indexed == 3  # the forgotten photos come back


def test_verify_drops_orphan_vectors(three_crops, tmp_path):
    import sqlite3

    index_crops([three_crops], tmp_path / "index")
    with sqlite3.connect(tmp_path / "index" / "catalog.sqlite") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM photos WHERE id = (SELECT MIN(id) FROM photos)")  # as if its commit was lost
    found = runner.invoke(app, ["verify", "--index", str(tmp_path / "index")])
    assert found.exit_code == 0 and "1 stored vectors have no catalog row" in found.output  # never searched
    with PlateIndex.open(tmp_path / "index") as plate_index:
        assert plate_index.stats()["vectors"] == plate_index.stats()["crops"] == 2
    assert runner.invoke(app, ["verify", "--index", str(tmp_path / "index"), "--repair"]).exit_code == 0
    assert "no catalog row" not in runner.invoke(app, ["verify", "--index", str(tmp_path / "index")]).output
    assert faiss.read_index(str(tmp_path / "index" / "vectors.faiss")).ntotal == 2  # rewritten without it


def test_verify_of_a_damaged_catalog_says_it_cannot_repair(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    (tmp_path / "index" / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    result = runner.invoke(app, ["verify", "--index", str(tmp_path / "index"), "--repair"])
    assert result.exit_code == 1 and "not repairable" in result.output


@pytest.fixture()
def tiny_filesystem(tmp_path):
    """A 1 MB tmpfs mounted in the temporary folder: a disk that can really fill up."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tiny filesystem needs root")
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file into `folder` until its disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_gives_a_clear_error_keeps_the_index_and_the_run_resumes(three_crops, tiny_filesystem):
    index = tiny_filesystem / "index"
    first, *others = sorted(three_crops.iterdir())
    index_crops([first], index)
    filler = _fill(tiny_filesystem)
    result = runner.invoke(app, ["index", *map(str, others), "--crops", "--no-ocr", "--index", str(index)])
    assert result.exit_code == 2 and "is full" in result.output and "Traceback" not in result.output, result.output
    assert not list(index.glob("*.tmp"))
    filler.unlink()
    stats = runner.invoke(app, ["stats", "--index", str(index)])
    assert stats.exit_code == 0 and "photos: 1" in stats.output, stats.output
    result = runner.invoke(app, ["index", *map(str, others), "--crops", "--no-ocr", "--index", str(index)])
    assert result.exit_code == 0, result.output
    with PlateIndex.open(index) as plate_index:
        assert len(plate_index.search("AB1234", k=10, method="embedding")) == 3


def test_a_vectors_file_of_another_index_is_refused_and_verify_repairs_it(three_crops, tmp_path):
    index_crops([three_crops], tmp_path / "index")
    index_crops([three_crops], tmp_path / "other")  # same photos, so only the crop ids can tell
    shutil.copy(tmp_path / "other" / "vectors.faiss", tmp_path / "index" / "vectors.faiss")
    for verb in (["stats"], ["query", "AB1234"]):
        result = runner.invoke(app, [*verb, "--index", str(tmp_path / "index")])
        assert result.exit_code == 2 and "another index" in result.output, result.output
    found = runner.invoke(app, ["verify", "--index", str(tmp_path / "index")])
    assert found.exit_code == 1 and "another index" in found.output
    assert runner.invoke(app, ["verify", "--index", str(tmp_path / "index"), "--repair"]).exit_code == 0
    assert index_crops([three_crops], tmp_path / "index").indexed == 3


def test_a_lost_commit_that_replaced_every_photo_is_not_taken_for_another_index():
    from platesearch.store import belongs_to_another_index

    assert not belongs_to_another_index({5, 6}, {7, 8})  # this index's next ids: a crash, not a swap
    assert belongs_to_another_index({5, 6}, {1 << 30, (1 << 30) + 1})
    assert not belongs_to_another_index({5, 6}, {6, 7})
