"""`index --engine ray` (`distributed.py`) on the bundled sample photos: a local Ray runtime,
two actors, each writing a shard. Loads EasyOCR and TensorFlow in each actor."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from platesearch.datasets import load_dataset
from platesearch.pipeline import PlateIndex
from platesearch.shards import shard_directories
from platesearch.verify import verify_index

pytest.importorskip("ray", reason="Ray is the optional extra platesearch[ray] (make test installs it)")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_runtime():
    import ray

    yield
    ray.shutdown()


def top3(plate_index: PlateIndex, plate: str) -> list[tuple[str, float]]:
    return [(r.path, r.score) for r in plate_index.search(plate, k=3)]


def wait_until_unlocked(directory, seconds: float = 60.0) -> None:
    """The actors of a killed run (in process groups of their own) exit within seconds, once
    the runtime that started them is gone; until then they hold their shards' write locks."""
    deadline = time.monotonic() + seconds
    for shard in shard_directories(directory):
        with open(shard / "write.lock", "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    break
                except BlockingIOError:
                    assert time.monotonic() < deadline, f"{shard} is still locked {seconds:.0f} s after the kill"
                    time.sleep(0.2)


def test_the_ray_engine_gives_the_answers_of_one_process(tmp_path, sample, ray_runtime):
    """Four of the sample photos (each is localized twice here: a third of the suite's time with all 18)."""
    items = load_dataset(sample / "photos").items[::5]
    photos = tmp_path / "photos"
    photos.mkdir()
    for item in items:
        shutil.copy(item.path, photos / item.path.name)
    plates = sorted({item.plate for item in items})
    with PlateIndex.create(tmp_path / "local") as local:
        local.add(photos, workers=0)
        expected = {plate: top3(local, plate) for plate in plates}
    with PlateIndex.create(tmp_path / "ray") as distributed:
        report = distributed.add(photos, engine="ray", workers=2)
        assert report.indexed == len(items) == 4 and not report.failed
        assert distributed.stats()["shards"] == 3  # the first shard (empty: the driver writes none) and one per actor
        assert distributed.stats()["photos"] == 4
        for plate in plates:
            found = top3(distributed, plate)
            assert [path for path, _ in found] == [path for path, _ in expected[plate]], plate
            assert [score for _, score in found] == pytest.approx([s for _, s in expected[plate]], abs=1e-4)
        again = distributed.add(photos, engine="ray", workers=2)
        assert again.skipped == 4 and again.indexed == 0


def test_a_killed_ray_run_resumes(tmp_path, many_crops, ray_runtime, committed_photos):
    """90 crops, 45 an actor in chunks of CHUNK_FILES (16), each chunk committed: the run is still
    going after its first commit however fast the machine (8 photos, 4 an actor, were all
    committed before the kill on a fast one)."""
    total = len(list(many_crops.iterdir()))
    directory = tmp_path / "index"
    command = [sys.executable, "-m", "platesearch", "index", str(many_crops), "--index", str(directory), "--crops"]
    command += ["--engine", "ray", "--workers", "2"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while committed_photos(directory) == 0 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.poll() is None, "the run ended before it could be killed"
        os.killpg(run.pid, signal.SIGKILL)  # the driver, the Ray runtime and the actors at once
        run.wait()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    wait_until_unlocked(directory)
    kept = committed_photos(directory)
    assert 0 < kept < total
    with PlateIndex.open(directory) as after_kill:  # loadable as it is
        assert after_kill.stats()["photos"] == kept
    with PlateIndex.create(directory) as resumed:
        report = resumed.add(many_crops, crops=True, engine="ray", workers=2)
        assert report.skipped == kept and report.indexed == total - kept
        assert resumed.stats()["photos"] == total
        paths = [
            path for shard in resumed.shards.stores for (path,) in shard.catalog.db.execute("SELECT path FROM photos")
        ]
        assert len(paths) == len(set(paths)) == total  # no photo in two shards
    assert verify_index(directory).ok
