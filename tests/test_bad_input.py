"""Messy collections: every bad file is skipped with its reason, counted, and the run goes on."""

import os
import shutil
import struct
import zlib

import pytest
from PIL import Image
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.media import iter_image_files
from platesearch.pipeline import PlateIndex


def png_bomb(path, width=100_000, height=100_000):
    """A tiny PNG whose header declares a gigantic image."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))


@pytest.fixture()
def messy(tmp_path, sample):
    root = tmp_path / "мої фото"  # non-ASCII and a space
    (root / "sub dir").mkdir(parents=True)
    good = next((sample / "crops" / "images").iterdir())
    (root / "good plate.png").write_bytes(good.read_bytes())
    (root / "zero.jpg").write_bytes(b"")
    (root / "notes.jpg").write_text("this is text")
    full = Image.effect_noise((300, 300), 40).convert("RGB")
    full.save(root / "truncated.jpg")
    data = (root / "truncated.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    png_bomb(root / "bomb.png")
    Image.open(good).convert("CMYK").save(root / "sub dir" / "cmyk.jpg")
    Image.open(good).convert("L").save(root / "sub dir" / "gray.png")
    os.symlink(root, root / "sub dir" / "loop")  # a symlink loop back to the top
    (root / "README.txt").write_text("not an image suffix: not scanned")
    return root


def test_scan_walks_loops_once_and_skips_non_images(messy):
    files = [p.name for p in iter_image_files([messy])]
    assert sorted(files) == sorted(
        ["good plate.png", "zero.jpg", "notes.jpg", "truncated.jpg", "bomb.png", "cmyk.jpg", "gray.png"]
    )


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["index", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 0 and "indexed 0 images" in result.output


def test_messy_collection(messy, tmp_path):
    result = CliRunner().invoke(app, ["index", str(messy), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 1, result.output  # the exit code says something failed
    assert "indexed 3 images" in result.output and "failed 4" in result.output
    with PlateIndex.open(tmp_path / "idx") as plate_index:
        failures = {os.path.basename(p): reason for p, reason in plate_index.failures()}
        assert plate_index.stats()["photos"] == 3
    assert set(failures) == {"zero.jpg", "notes.jpg", "truncated.jpg", "bomb.png"}
    assert "not an image" in failures["zero.jpg"] and "not an image" in failures["notes.jpg"]
    assert "decode" in failures["truncated.jpg"]
    assert "limit" in failures["bomb.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path, sample):
    folder = tmp_path / "locked"
    folder.mkdir()
    secret = folder / "secret.png"
    secret.write_bytes(next((sample / "crops" / "images").iterdir()).read_bytes())
    secret.chmod(0)
    result = CliRunner().invoke(app, ["index", str(folder), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 1 and "failed 1" in result.output


def test_dangling_symlink_is_a_failure_not_a_crash(tmp_path):
    folder = tmp_path / "links"
    folder.mkdir()
    os.symlink(tmp_path / "gone.png", folder / "dangling.png")
    result = CliRunner().invoke(app, ["index", str(folder), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 1 and "failed 1" in result.output and "cannot read file" in result.output


def test_pixel_limit_option(tmp_path, sample):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("RGB", (3000, 2000), "white").save(folder / "six-mp.png")
    result = CliRunner().invoke(
        app, ["index", str(folder), "--index", str(tmp_path / "idx"), "--crops", "--max-megapixels", "5"]
    )
    assert result.exit_code == 1 and "above the limit" in result.output


def test_unlistable_folder_is_reported_not_silently_skipped(tmp_path, sample, monkeypatch):
    photos = tmp_path / "photos"
    (photos / "locked").mkdir(parents=True)
    shutil.copy(next((sample / "crops" / "images").iterdir()), photos / "a.jpg")
    real_scandir = os.scandir

    def scandir(path="."):  # as root, permissions cannot lock a folder: refuse it here instead
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = CliRunner().invoke(app, ["index", str(photos), "--index", str(tmp_path / "idx"), "--crops"])
    assert result.exit_code == 1, result.output
    assert "indexed 1 image " in result.output
    assert "locked: cannot read folder: Permission denied" in " ".join(result.output.split())  # rich wraps lines


def test_swapped_arguments_leave_the_photo_folder_alone(tmp_path, sample):
    """`index --index photos/ my-index`: the photo folder is refused as an index, nothing written."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(next((sample / "crops" / "images").iterdir()).read_bytes())
    result = CliRunner().invoke(app, ["index", str(tmp_path / "my-index"), "--index", str(photos), "--crops"])
    assert result.exit_code != 0 and "not a platesearch index" in result.output
    assert [p.name for p in photos.iterdir()] == ["a.png"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("epochs: [1\n", "error: while parsing"), ("name: x\nepochs: 0\n", "validation errors for TrainConfig")],
)
def test_a_bad_training_config_is_refused_with_an_error_before_any_work(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
