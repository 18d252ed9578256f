"""Where the per-file work of indexing runs: in this process, or in a pool of worker processes.

The work itself (`ingest.Preparer`) knows nothing of this; anything that maps a picklable
function over jobs in order can run it (a Ray pool later).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from platesearch.runtime import share_cores

Job = TypeVar("Job")
Result = TypeVar("Result")
AHEAD_PER_WORKER = 4  # jobs submitted ahead of the one awaited, per worker


def _init_worker(threads: int) -> None:
    """Split the cores between the workers, leave Ctrl-C to the parent, and exit with it."""
    share_cores(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the run and commits what is done
    parent = os.getppid()

    def exit_when_orphaned() -> None:  # a killed indexer must not leave its workers behind
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()


def run_in_order(
    work: Callable[[Job], Result],
    jobs: Iterator[Job],
    workers: int,
    timeout: float | Callable[[Job], float] | None = None,
    on_timeout: Callable[[Job], Result] | None = None,
) -> Iterator[Result]:
    """`work` over `jobs`, results in job order; with workers > 0, a bounded number of jobs run
    ahead in that many worker processes (one thread each when they share the cores).

    With workers, a job whose result takes longer than `timeout` seconds (or `timeout(job)`)
    once awaited (a decoder that hangs) is answered by `on_timeout(job)`; the pool is then replaced, since its
    stuck process cannot be stopped otherwise, and the jobs it held are submitted again.
    In this process there is no time limit.
    """
    if workers <= 0:
        yield from map(work, jobs)
        return
    # spawn: the parent may hold TensorFlow's threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))

    pool = new_pool()
    running: deque[tuple[Job, Future]] = deque()
    try:
        jobs = iter(jobs)
        exhausted = False
        while True:
            while not exhausted and len(running) < AHEAD_PER_WORKER * workers:
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                else:
                    running.append((job, pool.submit(work, job)))
            if not running:
                return
            job, future = running.popleft()
            try:
                yield future.result(timeout=timeout(job) if callable(timeout) else timeout)
            except TimeoutError:
                if on_timeout is None:
                    raise
                _kill(pool)
                pool = new_pool()
                running = deque((waiting, pool.submit(work, waiting)) for waiting, _ in running)
                yield on_timeout(job)
    finally:  # on a stop or an error, files not started yet are dropped rather than waited for
        pool.shutdown(wait=True, cancel_futures=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    """End a pool whose worker hangs: shutdown would wait for it forever."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way to reach them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join(timeout=10)


@contextmanager
def stop_on_interrupt(on_first: Callable[[], None], stopped_at_once: str = "") -> Iterator[threading.Event]:
    """Ctrl-C sets the yielded event (the run stops after the file at hand and commits what is
    done); a second Ctrl-C writes `stopped_at_once` and ends the process at once, exit status 130.

    The last words go straight to the stderr descriptor: a second Ctrl-C can land while the
    first one's message is still inside a console print, and whatever sits in such a buffer is
    lost at `os._exit`. Ending at once loses nothing committed: the store writes vectors before
    their catalog rows, and the next open drops vectors whose rows never committed.
    """
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            if stopped_at_once:
                os.write(2, f"{stopped_at_once}\n".encode())
            os._exit(130)
        stop.set()
        on_first()

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
