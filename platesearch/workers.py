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
from concurrent.futures import ProcessPoolExecutor
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


def run_in_order(work: Callable[[Job], Result], jobs: Iterator[Job], workers: int) -> Iterator[Result]:
    """`work` over `jobs`, results in job order; with workers > 0, a bounded number of jobs run
    ahead in that many worker processes (one thread each when they share the cores)."""
    if workers <= 0:
        yield from map(work, jobs)
        return
    # spawn: the parent may hold TensorFlow's threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
    try:
        running: deque = deque()
        for job in jobs:
            running.append(pool.submit(work, job))
            if len(running) >= AHEAD_PER_WORKER * workers:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
    finally:  # on a stop or an error, files not started yet are dropped rather than waited for
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def stop_on_interrupt(on_first: Callable[[], None], on_second: Callable[[], None]) -> Iterator[threading.Event]:
    """Ctrl-C sets the yielded event (the run stops after the file at hand and commits what is
    done); a second Ctrl-C ends the process at once, exit status 130.

    Ending at once loses nothing committed: the store writes vectors before their catalog rows,
    and the next open drops vectors whose rows never committed.
    """
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            on_second()
            os._exit(130)
        stop.set()
        on_first()

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
