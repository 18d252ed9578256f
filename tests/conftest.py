"""Shared fixtures: where the real data is, and skips with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
SAMPLE = REPO / "datasets" / "sample"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS} (a user's clone has no ../shared; CI has it)")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def sample() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def make_stress():
    """datasets/make_stress.py, the script that builds the stress variants, as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_stress", REPO / "datasets" / "make_stress.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def many_crops(tmp_path, sample) -> Path:
    """90 distinct plate crops (the 30 sample crops at 3 scales): enough that an indexing run
    commits several times, so a test can kill it between commits however fast the machine."""
    import cv2

    folder = tmp_path / "crops"
    folder.mkdir()
    for n, path in enumerate(sorted((sample / "crops" / "images").iterdir())):
        image = cv2.imread(str(path))
        for scale in (1.0, 0.9, 0.8):  # distinct content, so distinct hashes
            cv2.imwrite(str(folder / f"{n}-{scale}.png"), cv2.resize(image, None, fx=scale, fy=scale))
    return folder


@pytest.fixture(scope="session")
def sample_crops_index(tmp_path_factory, sample) -> Path:
    """The 30 sample crops indexed with their readings, once a session (a minute of EasyOCR):
    read-only; a test that writes into an index copies this one first."""
    from platesearch.datasets import load_dataset
    from platesearch.pipeline import PlateIndex

    directory = tmp_path_factory.mktemp("sample") / "crops-index"
    with PlateIndex.create(directory) as plate_index:
        report = plate_index.add([sample / "crops" / "images"], crops=True)
    assert report.indexed == len(load_dataset(sample / "crops").items) and not report.failed
    return directory


@pytest.fixture()
def make_store(tmp_path):
    """A function that opens a new, empty store of `dim`-d vectors for writing (closed after the test)."""
    from platesearch.store import IndexManifest, IndexStore

    opened = []

    def make(dim: int):
        opened.append(
            IndexStore.create_or_open(tmp_path / f"index-{len(opened)}", IndexManifest("0" * 64, dim, "test"))
        )
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def committed_photos():
    """A function: the photos an index has committed so far, over every shard; 0 before its
    catalog exists. It reads while a writer runs (and after one was killed)."""
    import sqlite3
    from contextlib import closing

    from platesearch.shards import shard_directories

    def count(directory: Path) -> int:
        total = 0
        for shard in shard_directories(directory):
            catalog = shard / "catalog.sqlite"
            if not catalog.exists():
                continue
            try:
                with closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1)) as db:
                    total += db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
            except sqlite3.OperationalError:  # the writer has not created the table yet
                pass
        return total

    return count
