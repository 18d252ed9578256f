"""What a reader of an index keeps in memory per crop, and how long opening it takes.

Resident memory of this process before and after `IndexStore.open_readonly(DIR)`, and again
after glibc's `malloc_trim` returns freed memory to the system (so what loading needed for a
moment does not count). Run it against the code of another checkout with --code.

Run: .venv/bin/python benchmarks/reader_memory.py INDEX_DIR [--code CHECKOUT]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time


def resident() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index")
    parser.add_argument("--code", help="a checkout whose platesearch to import instead")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, args.code)
    from platesearch.store import IndexStore

    before = resident()
    started = time.perf_counter()
    store = IndexStore.open_readonly(args.index)
    opened = time.perf_counter() - started
    crops, after_open = store.vectors.ntotal, resident() - before
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(
        f"{crops:,} crops: open {opened:.2f} s, resident after open {after_open / crops:.0f} B per crop, "
        f"after malloc_trim {(resident() - before) / crops:.0f} B per crop"
    )


if __name__ == "__main__":
    main()
