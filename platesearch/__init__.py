"""platesearch: find photos of a licence plate from its text.

    from platesearch import PlateIndex
    with PlateIndex.create("my-index") as index:
        index.add(["photos/"])
        for result in index.search("AA5149EK", k=3):
            print(result.rank, result.path, result.score)

The names below load on first use, so `import platesearch` stays fast (no TensorFlow, torch
or FAISS until they are needed).
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from platesearch.runtime import keep_library_files_in_cache

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keep_library_files_in_cache()

try:
    __version__ = version("platesearch")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_PUBLIC = {
    "PlateIndex": "platesearch.pipeline",
    "SearchResult": "platesearch.records",
    "TimeWindow": "platesearch.records",
    "IndexReport": "platesearch.ingest",
    "normalize_plate": "platesearch.plates",
    "render_plate": "platesearch.render",
    "evaluate_dataset": "platesearch.evaluate",
}
__all__ = [
    "IndexReport",
    "PlateIndex",
    "SearchResult",
    "TimeWindow",
    "__version__",
    "evaluate_dataset",
    "normalize_plate",
    "render_plate",
]

if TYPE_CHECKING:
    from platesearch.evaluate import evaluate_dataset
    from platesearch.ingest import IndexReport
    from platesearch.pipeline import PlateIndex
    from platesearch.plates import normalize_plate
    from platesearch.records import SearchResult, TimeWindow
    from platesearch.render import render_plate


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'platesearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
