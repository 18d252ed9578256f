"""An indexing run killed with SIGKILL leaves a loadable, consistent index that a rerun completes,
and readers during both runs only ever see committed, consistent views."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import pytest

from platesearch.pipeline import PlateIndex


def _children(pid: int) -> list[int]:
    """Child processes of `pid` (Linux /proc); the indexer's decode/binarize workers here."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        pytest.skip("needs Linux /proc to find the worker processes")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def _check_a_readers_view(index_dir: Path) -> bool:
    """Open the index as a reader while it is written; False when there is nothing to open yet."""
    if not (index_dir / "catalog.sqlite").exists() or not (index_dir / "manifest.json").exists():
        return False
    with PlateIndex.open(index_dir) as reader:
        ids = set(faiss.vector_to_array(reader.store.vectors.id_map).tolist())
        committed = {row[0] for row in reader.store.catalog.db.execute("SELECT id FROM crops")}
        assert ids <= committed  # every searchable vector has its catalog row
        if not ids:
            return False
        for method in ("embedding", "ocr", "hybrid"):
            results = reader.search("9A9990A", k=3, method=method)
            assert all(r.crop_id in ids for r in results)
            assert results or method == "ocr"  # no reading need be close to the query
    return True


@pytest.mark.slow
def test_sigkill_then_resume_with_readers_throughout(many_crops, tmp_path, committed_photos):
    index_dir = tmp_path / "index"
    total = len(list(many_crops.iterdir()))
    command = [sys.executable, "-m", "platesearch", "index", str(many_crops), "--index", str(index_dir), "--crops"]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None and committed_photos(index_dir) == 0:
            _check_a_readers_view(index_dir)
            time.sleep(0.05)
        assert process.poll() is None, "indexing finished before it could be interrupted"
        workers = _children(process.pid)
        assert workers, "90 files should be prepared in worker processes"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.time() + 15
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "worker processes outlived the indexer"

    with PlateIndex.open(index_dir) as interrupted:
        stats = interrupted.stats()
    assert 0 < stats["photos"] < total
    assert stats["crops"] == stats["vectors"] == stats["photos"]  # one crop per image in --crops mode

    rerun = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    views = 0
    try:
        deadline = time.time() + 300
        while rerun.poll() is None and time.time() < deadline:
            views += _check_a_readers_view(index_dir)
            time.sleep(0.2)  # leave the writer the cores
        assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    finally:
        if rerun.poll() is None:
            rerun.kill()
    assert views >= 1, "no reader opened the index while the rerun wrote it"
    with PlateIndex.open(index_dir) as finished:
        stats = finished.stats()
    assert stats["photos"] == stats["crops"] == stats["vectors"] == total
