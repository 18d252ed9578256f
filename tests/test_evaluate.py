"""Label parsing, the baseline, and a small real end-to-end evaluation."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.datasets import load_dataset
from platesearch.evaluate import evaluate_baseline, evaluate_dataset


def test_labels_with_bad_rows_are_reported(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text(
        "image,plate,x,y,w,h\n"
        "images/a.png,AB 123,1,2,3,4\n"
        "images/missing.png,AB123,1,2,3,4\n"
        "images/a.png,AB#1,1,2,3,4\n"
        "images/a.png,AB1,1,2,0,4\n"
        "images/a.png,,1,2,3,4\n"
    )
    dataset = load_dataset(tmp_path)
    assert [(i.plate, i.box) for i in dataset.items] == [("AB123", (1, 2, 3, 4))]
    assert [row.split(":")[0] for row in dataset.bad_rows] == ["line 3", "line 4", "line 5", "line 6"]
    assert "not found" in dataset.bad_rows[0] and "'#'" in dataset.bad_rows[1] and "no area" in dataset.bad_rows[2]


def test_missing_labels_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.csv"):
        load_dataset(tmp_path)


def test_labels_from_another_file_keep_image_paths_relative_to_the_dataset(tmp_path):
    dataset_dir, elsewhere = tmp_path / "dataset", tmp_path / "corrections"
    (dataset_dir / "images").mkdir(parents=True)
    elsewhere.mkdir()
    (dataset_dir / "images" / "a.png").write_bytes(b"x")
    (dataset_dir / "labels.csv").write_text("image,plate\nimages/a.png,AB123\n")
    (elsewhere / "labels.csv").write_text("image,plate\nimages/a.png,AB128\n")
    dataset = load_dataset(dataset_dir, elsewhere / "labels.csv")
    assert [(i.path, i.plate) for i in dataset.items] == [(dataset_dir / "images" / "a.png", "AB128")]
    assert dataset.bad_rows == []
    with pytest.raises(FileNotFoundError, match="labels file .*nowhere.csv not found"):
        load_dataset(dataset_dir, elsewhere / "nowhere.csv")


def test_real_crops_end_to_end(sample, sample_crops_index, tmp_path):
    """The function indexes the crops itself; the command queries the session's index of them."""
    report = evaluate_dataset(sample / "crops", ks=(1, 3))
    assert report.metrics["queries"] == len(load_dataset(sample / "crops").plates)
    assert report.metrics["top1"] >= 0.9  # measured with the shipped model: 0.967 (29 of 30)
    assert report.metrics["top3"] >= report.metrics["top1"]
    command = ["evaluate", str(sample / "crops"), "--index", str(sample_crops_index), "--k", "1,3"]
    result = CliRunner().invoke(app, [*command, "--report", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    assert "top-1" in result.output and (tmp_path / "r.md").read_text().startswith("# Evaluation")


def test_baseline_ranks_whole_image_readings_ties_against_the_query(monkeypatch, tmp_path):
    """The built-in yardstick: best plain edit-distance similarity over each string or their concatenation."""
    images = tmp_path / "images"
    images.mkdir()
    readings = {"a.png": ["AB", "1234"], "b.png": ["AB1235"], "c.png": [], "d.png": ["XY9999"]}
    for name in readings:
        (images / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text(
        "image,plate\n"
        + "".join(f"images/{n},{p}\n" for n, p in zip(readings, ["AB1234", "AB1235", "QQ1111", "XY9990"], strict=True))
    )
    import platesearch.baseline as baseline

    monkeypatch.setattr(
        baseline, "whole_image_readings", lambda path: [*readings[Path(path).name], "".join(readings[Path(path).name])]
    )
    report = evaluate_baseline(tmp_path, ks=(1, 3))
    ranks = {o.plate: o.rank for o in report.outcomes}
    assert ranks["AB1234"] == 1  # only the concatenation "AB1234" matches exactly
    assert ranks["AB1235"] == 1
    assert ranks["QQ1111"] is None  # nothing read: every other image ties at best, so it is a miss
    assert ranks["XY9990"] == 1
    assert report.method == "baseline" and report.metrics["top1"] == 0.75


def test_misses_for_a_photo_labelled_one_character_away_are_flagged(monkeypatch, tmp_path):
    """One plate photographed twice and labelled two ways: each query puts the other photo first."""
    images = tmp_path / "images"
    images.mkdir()
    labels = {"a.png": "DZV9352", "b.png": "DZY9352", "c.png": "QQ1111", "d.png": "XY9990"}
    readings = {"a.png": ["DZV9352"], "b.png": ["DZV9352"], "c.png": [], "d.png": ["XY9990"]}
    for name in labels:
        (images / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text("image,plate\n" + "".join(f"images/{n},{p}\n" for n, p in labels.items()))
    import platesearch.baseline as baseline
    from platesearch.report import write_report

    monkeypatch.setattr(baseline, "whole_image_readings", lambda path: readings[Path(path).name])
    monkeypatch.setattr("platesearch.report.draw_failure_gallery", lambda result, out: None)
    report = evaluate_baseline(tmp_path, ks=(1, 3))
    assert sorted(o.plate for o in report.misses) == ["DZV9352", "DZY9352", "QQ1111"]
    near = {o.plate: (Path(o.results[0].path).name, o.near_label) for o in report.near_label_misses}
    assert near == {"DZV9352": ("b.png", "DZY9352"), "DZY9352": ("a.png", "DZV9352")}  # not QQ1111: far from both
    assert [row["first_labelled"] for row in report.to_json()["near_label_misses"]] == ["DZY9352", "DZV9352"]
    text = write_report(report, tmp_path / "report.md").read_text()
    assert "labelled one character away: 2" in text and "- DZY9352: first a.png, labelled DZV9352" in text


@pytest.mark.slow
def test_cli_evaluate_prints_the_baseline_beside(sample, sample_crops_index):
    command = ["evaluate", str(sample / "crops"), "--index", str(sample_crops_index), "-k", "1", "--baseline"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "queries" in line]
    assert len(lines) == 2 and "[hybrid]" in lines[0] and "[baseline]" in lines[1]
    baseline_top1 = float(lines[1].split("top-1 ")[1].split()[0])
    assert 0.5 <= baseline_top1 <= 1.0  # EasyOCR reads most of these crops: it is a real yardstick


def test_corrected_br_crop_labels_change_only_the_rows_their_readme_lists(shared_datasets):
    """datasets/relabelled: every change to the shipped labels is one row of its README's table."""
    folder = shared_datasets / "openalpr-br-crops"
    relabelled = Path(__file__).parents[1] / "datasets" / "relabelled"
    corrected = load_dataset(folder, relabelled / "openalpr-br-crops.csv")
    assert corrected.bad_rows == []
    now = {item.path.relative_to(folder).as_posix(): item.plate for item in corrected.items}
    changes = {}  # image -> (labelled, seen); seen "" where the row is left out
    for item in load_dataset(folder).items:
        image = item.path.relative_to(folder).as_posix()
        if now.get(image, "") != item.plate:
            changes[image] = (item.plate, now.get(image, ""))
    table = {}
    for line in (relabelled / "README.md").read_text().splitlines():
        if line.startswith("| `"):
            image, labelled, seen = (cell.strip() for cell in line.strip("|").split("|")[:3])
            table[image.strip("`")] = (labelled, "" if seen == "(none)" else seen)
    assert table == changes
    assert sum(seen == "" for _, seen in changes.values()) == 1 and len(changes) == 31
