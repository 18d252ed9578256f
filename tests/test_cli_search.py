"""The index / query / stats / remove / evaluate verbs where a new user hit sharp edges."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from platesearch import __version__
from platesearch.cli.main import app
from platesearch.pipeline import PlateIndex

runner = CliRunner()


@pytest.fixture(scope="module")
def unread_index(tmp_path_factory, sample):
    """The sample crops indexed with --no-ocr: vectors, no readings."""
    directory = tmp_path_factory.mktemp("unread") / "index"
    result = runner.invoke(
        app, ["index", str(sample / "crops" / "images"), "--index", str(directory), "--crops", "--no-ocr"]
    )
    assert result.exit_code == 0, result.output
    return directory


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"platesearch {__version__}"


def test_remove_of_a_path_not_in_the_index_fails(unread_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(unread_index, copy)
    result = runner.invoke(app, ["remove", "/nowhere/photo.jpg", "--index", str(copy)])
    assert result.exit_code == 1 and "not in the index: /nowhere/photo.jpg" in result.output


def test_ocr_search_of_an_index_without_readings_is_refused(unread_index, sample):
    plate = (sample / "crops" / "labels.csv").read_text().splitlines()[1].split(",")[1]
    refused = runner.invoke(app, ["query", plate, "--index", str(unread_index), "--method", "ocr"])
    assert refused.exit_code == 2 and "no OCR readings" in refused.output
    hybrid = runner.invoke(app, ["query", plate, "--index", str(unread_index), "--json"])
    assert hybrid.exit_code == 0 and "ranked by the embedding alone" in " ".join(hybrid.output.split())


def test_unknown_method_is_refused_before_anything_loads(unread_index):
    result = runner.invoke(app, ["query", "AB1234", "--index", str(unread_index), "--method", "cosine"])
    assert result.exit_code == 2 and "cosine" in result.output


def test_stats_does_not_load_tensorflow(unread_index):
    code = (
        "import sys; from platesearch.cli.main import app; "
        f"app(['stats', '--index', {str(unread_index)!r}], standalone_mode=False); "
        "assert 'tensorflow' not in sys.modules and 'torch' not in sys.modules, 'a model was loaded'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "photos: 30" in result.stdout


def test_evaluate_finds_the_images_at_another_path(unread_index, sample, tmp_path):
    moved = tmp_path / "crops"
    shutil.copytree(sample / "crops", moved)  # the same files, at a path the index never saw
    here = runner.invoke(
        app, ["evaluate", str(sample / "crops"), "--index", str(unread_index), "--method", "embedding", "--json"]
    )
    there = runner.invoke(
        app, ["evaluate", str(moved), "--index", str(unread_index), "--method", "embedding", "--json"]
    )
    assert here.exit_code == there.exit_code == 0, there.output
    assert '"top1": 0.0,' not in there.output
    assert there.output.split('"hits_from_labelled_box"')[0] == here.output.split('"hits_from_labelled_box"')[0]


def test_evaluate_reads_corrected_labels_from_another_file(unread_index, sample, tmp_path):
    rows = (sample / "crops" / "labels.csv").read_text().splitlines()
    corrected = tmp_path / "corrected.csv"
    corrected.write_text("\n".join(rows[:6]) + "\n")  # the header and five of the crops
    before = {p.name: p.stat().st_mtime_ns for p in (sample / "crops").iterdir()}
    result = runner.invoke(
        app,
        ["evaluate", str(sample / "crops"), "--index", str(unread_index), "--labels", str(corrected)]
        + ["--method", "embedding", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert '"queries": 5,' in result.output
    assert {p.name: p.stat().st_mtime_ns for p in (sample / "crops").iterdir()} == before
    missing = runner.invoke(
        app, ["evaluate", str(sample / "crops"), "--index", str(unread_index), "--labels", str(tmp_path / "no.csv")]
    )
    assert missing.exit_code == 2 and "labels file" in missing.output and "not found" in missing.output


def test_evaluate_against_an_index_of_other_images_fails_loudly(unread_index, sample):
    result = runner.invoke(
        app, ["evaluate", str(sample / "photos"), "--index", str(unread_index), "--method", "embedding"]
    )
    assert result.exit_code == 2 and "none of the" in result.output and "are in the index" in result.output


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_then_a_second_ctrl_c_stops_at_once(tmp_path, sample):
    folder = tmp_path / "crops"
    folder.mkdir()
    import cv2

    for n, path in enumerate(sorted((sample / "crops" / "images").iterdir())):
        image = cv2.imread(str(path))
        for scale in (1.0, 0.9, 0.8, 0.7):  # distinct content, so distinct hashes
            cv2.imwrite(str(folder / f"{n}-{scale}.png"), cv2.resize(image, None, fx=scale, fy=scale))
    index_dir = tmp_path / "index"
    command = [sys.executable, "-m", "platesearch", "index", str(folder), "--index", str(index_dir), "--crops"]

    def start_and_wait_for_progress() -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 180
        while time.time() < deadline and not (index_dir / "vectors.faiss").exists() and process.poll() is None:
            time.sleep(0.1)  # the first batch of this run is committed
        assert process.poll() is None, "indexing finished before it could be interrupted"
        return process

    process = start_and_wait_for_progress()
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "stopping after the file at hand" in stderr and "run the same command again" in stderr
    with PlateIndex.open(index_dir) as plate_index:
        first = plate_index.stats()
    assert 0 < first["photos"] < 120 and first["crops"] == first["vectors"]

    (index_dir / "vectors.faiss").unlink()  # so the next run's first commit is visible
    shutil.rmtree(index_dir)
    process = start_and_wait_for_progress()
    os.kill(process.pid, signal.SIGINT)
    time.sleep(0.2)
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "stopped at once" in stderr, stderr
    with PlateIndex.open(index_dir) as plate_index:  # loadable, catalog and vectors agree
        second = plate_index.stats()
    assert second["crops"] == second["vectors"]


def test_not_found_is_an_empty_answer_not_noise(unread_index):
    result = runner.invoke(app, ["query", "ZZZZZZ", "--index", str(unread_index), "--min-score", "0.99", "--json"])
    assert result.exit_code == 0 and "not found: no photo scored above 0.99" in " ".join(result.output.split())
    assert result.stdout.strip().endswith("[]")
    kept = runner.invoke(
        app, ["query", "ZZZZZZ", "--index", str(unread_index), "--min-score", "0.0", "--json", "-k", "2"]
    )
    assert kept.exit_code == 0 and kept.stdout.count('"rank"') == 2


def test_query_takes_a_plate_or_partial_but_not_both(unread_index):
    assert runner.invoke(app, ["query", "--index", str(unread_index)]).exit_code == 2
    assert runner.invoke(app, ["query", "AB12", "--partial", "12", "--index", str(unread_index)]).exit_code == 2
    assert runner.invoke(app, ["query", "--partial", "12", "--index", str(unread_index), "--json"]).exit_code == 0


def test_query_results_say_when_and_a_time_window_filters_them(unread_index):
    import json
    import sqlite3

    with sqlite3.connect(unread_index / "catalog.sqlite") as db:
        taken = dict(db.execute("SELECT path, taken_at FROM photos WHERE status = 'ok'"))
    assert taken and all(len(value) == 19 for value in taken.values())  # every indexed file got its time
    latest = max(taken.values())
    result = runner.invoke(app, ["query", "AB1234", "--index", str(unread_index), "--json", "-k", "50"])
    rows = json.loads(result.stdout)
    assert rows and all(row["taken_at"] == taken[row["path"]] for row in rows)
    after = runner.invoke(
        app, ["query", "AB1234", "--index", str(unread_index), "--json", "-k", "50", "--since", latest]
    )
    assert {row["path"] for row in json.loads(after.stdout)} == {r["path"] for r in rows if r["taken_at"] >= latest}
    before = runner.invoke(
        app, ["query", "AB1234", "--index", str(unread_index), "--json", "-k", "50", "--until", "2000-01-01"]
    )
    assert before.exit_code == 0 and json.loads(before.stdout) == []  # the sample was not taken before 2000
    bad = runner.invoke(app, ["query", "AB1234", "--index", str(unread_index), "--since", "last tuesday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
