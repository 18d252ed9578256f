"""Indexing on a Ray cluster (`index --engine ray`): one Ray actor per shard.

The driver (this process) holds the index's write lock, decides which files need work, and
gives each file to a shard: the shard that records its path already (a changed file), else
shard crc32(path) mod the number of actors, so a run started again sends a file where it went
before. Each actor loads the model once, owns one shard (an ordinary index folder under
`shards/`, with the same crash safety) and indexes its files in chunks with the per-file work
of a local run (`PlateIndex.add`, in the actor's process). A killed run leaves every shard
loadable; running the command again skips what each shard committed.

The actors read the photos by path: on a cluster every node must see the same paths, and have
platesearch installed. Content already indexed under another path is found within a shard
only, and a photo moved to a new path is indexed anew (the local engine records the move;
`platesearch remove` forgets the old path).
"""

from __future__ import annotations

import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from platesearch.ingest import IndexReport, Progress
from platesearch.shards import ShardSet, add_shards, shard_directories
from platesearch.store import IndexStore, IndexStoreError

CHUNK_FILES = 16  # files per actor call: the progress bar moves, and a stop waits for at most one chunk
ACTOR_THREADS = 1  # each actor is given one CPU by Ray and sizes its thread pools to it
RELEASE_SECONDS = 60.0  # how long a killed actor may take to exit and free its shard


@dataclass(frozen=True)
class ShardOptions:
    """What each actor's `PlateIndex.add` is asked to do (the CLI's options of `index`)."""

    crops: bool
    ocr: bool
    max_pixels: int
    detector_max_side: int | None
    video_fps: float


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _start_ray(address: str | None, actors: int | None) -> int:
    """Connect to a cluster (or start a local one); returns how many actors to run."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            "--engine ray needs Ray: pip install 'platesearch[ray]' (or use the default local engine)"
        ) from None
    if not ray.is_initialized():
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": {"PLATESEARCH_THREADS": str(ACTOR_THREADS), "RAY_DEDUP_LOGS": "0"}},
            )
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RayUnavailableError(f"cannot reach the Ray cluster at {address}: {error}") from None
    return actors or max(1, int(ray.cluster_resources().get("CPU", 1)))


def _shard_writer_class():
    import ray

    @ray.remote(num_cpus=1, max_restarts=0)
    class ShardWriter:
        """One shard's writer, in a Ray worker process: the model loads once, files come in chunks."""

        def __init__(self, directory: str, options: ShardOptions) -> None:
            from platesearch.pipeline import PlateIndex

            self.plate_index = PlateIndex.create(directory, existing_only=True, shard_crops=sys.maxsize)
            self.plate_index.max_pixels = options.max_pixels
            self.options = options

        def close(self) -> None:
            """Release the shard's write lock (the driver reopens the shard after the run)."""
            self.plate_index.close()

        def add(self, files: list[str]) -> IndexReport:
            o = self.options
            return self.plate_index.add(
                [Path(f) for f in files],
                crops=o.crops,
                ocr=o.ocr,
                workers=0,
                detector_max_side=o.detector_max_side,
                video_fps=o.video_fps,
            )

    return ShardWriter


def plan(shards: ShardSet, files: list[Path], actors: int, report: IndexReport) -> dict[int, list[str]]:
    """Files to index, by actor number (crc32 of the path mod the actors). Unchanged files are
    counted as skipped; a changed file's old record is dropped, wherever it is, before an actor
    indexes it anew."""
    by_actor: dict[int, list[str]] = {}
    changed = []
    for path in files:
        name = str(path)
        try:
            stat = path.stat()
        except OSError as error:
            report.failed.append((name, f"cannot read file: {error.strerror or error}"))
            continue
        found = shards.known_file(name)
        if found and found[1].unchanged(stat.st_size, stat.st_mtime):
            report.skipped += 1
            continue
        if found:
            changed.append(name)
        by_actor.setdefault(zlib.crc32(name.encode()) % actors, []).append(name)
    if changed:
        shards.remove(changed)  # indexed anew by an actor; a kill meanwhile: indexed on the next run
    return by_actor


def target_shards(shards: ShardSet, actors: int) -> list[Path]:
    """The shards this run writes: the further shards with room, then new ones, `actors` in all."""
    room = [s.directory for s in shards.stores[1:] if s.vectors.ntotal < shards.shard_crops][:actors]
    return room + add_shards(shards.root, shards.manifest, actors - len(room))


def index_with_ray(
    shards: ShardSet,
    files: list[Path],
    options: ShardOptions,
    address: str | None = None,
    actors: int | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> IndexReport:
    """Index `files` into `shards` (opened for writing) with one Ray actor per target shard."""
    import ray

    count = _start_ray(address, actors)
    report = IndexReport()
    by_actor = plan(shards, files, count, report)
    total, done = len(files), report.skipped + len(report.failed)
    if progress:
        progress(done, total, report)
    if not by_actor:
        return report
    targets = target_shards(shards, count)
    kept = shards.stores[0]
    for store in shards.stores[1:]:  # the actors take their shards' write locks
        store.close()
    shards.stores = [kept]
    writer_class = _shard_writer_class()
    writers = {n: writer_class.remote(str(targets[n]), options) for n in by_actor}
    pending = {}
    for n, names in by_actor.items():
        for start in range(0, len(names), CHUNK_FILES):
            chunk = names[start : start + CHUNK_FILES]
            pending[writers[n].add.remote(chunk)] = len(chunk)
    try:
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in finished:
                done += pending.pop(ref)
                report.add(ray.get(ref))
                if progress:
                    progress(done, total, report)
            if stop is not None and stop.is_set():
                report.interrupted = bool(pending)
                break
        if not pending:
            ray.get([writer.close.remote() for writer in writers.values()])
    finally:
        for writer in writers.values():
            ray.kill(writer)  # a stop: the chunk at hand is lost uncommitted, what was committed stays
        shards.stores += [_reopen(d, shards) for d in shard_directories(shards.root)[1:]]
    return report


def _reopen(directory: Path, shards: ShardSet) -> IndexStore:
    """A shard opened for writing again, once its killed actor has let go of the lock."""
    deadline = time.monotonic() + RELEASE_SECONDS
    while True:
        try:
            return IndexStore.create_or_open(directory, shards.manifest, existing_only=True)
        except IndexStoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
