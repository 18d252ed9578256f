import cv2
import numpy as np
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.render import render_plate

runner = CliRunner()


def test_render_writes_the_plate(tmp_path):
    out = tmp_path / "plate.png"
    result = runner.invoke(app, ["render", "aa 5149-ek", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(cv2.imread(str(out), cv2.IMREAD_GRAYSCALE), render_plate("AA5149-EK"))  # the dash is drawn


def test_render_rejects_bad_text_with_exit_2(tmp_path):
    result = runner.invoke(app, ["render", "AB$1", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "'$'" in result.output


def test_binarize_a_crop(tmp_path, sample):
    crop = next((sample / "crops" / "images").iterdir())
    out = tmp_path / "bin.png"
    result = runner.invoke(app, ["binarize", str(crop), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(out), cv2.IMREAD_GRAYSCALE).shape == (64, 512)


def test_binarize_reports_unreadable_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    result = runner.invoke(app, ["binarize", str(bad), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "bad.jpg" in result.output


def test_output_that_cannot_be_written_is_an_error_not_a_silent_success(tmp_path, sample):
    crop = next((sample / "crops" / "images").iterdir())
    for args in (
        ["render", "AB123", "-o", str(tmp_path / "missing" / "plate.png")],
        ["binarize", str(crop), "-o", str(tmp_path / "missing" / "bin.png")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "does not exist" in result.output, args
    result = runner.invoke(app, ["render", "AB123", "-o", str(tmp_path / "plate.txt")])
    assert result.exit_code == 2 and ".png" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "missing").exists() and not (tmp_path / "plate.txt").exists()
