"""Thread budgets and import order for TensorFlow (the model) and torch (EasyOCR) in one process.

Both default to a thread pool per core; left alone in one process they oversubscribe a small
machine badly (EasyOCR ran 30x slower on 2 cores). Every pool is sized here, from
$PLATESEARCH_THREADS or the core count, and worker processes get their share of the cores.
torch's kernel compiler, triton, must be imported before TensorFlow or the process crashes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

THREADS_VARIABLE = "PLATESEARCH_THREADS"
DETECTOR_PRECISION_VARIABLE = "PLATESEARCH_DETECTOR_PRECISION"
DETECTOR_PRECISIONS = ("int8", "bfloat16", "float32")


def cache_dir() -> Path:
    """The one folder outside an index that platesearch's libraries may write to:
    $PLATESEARCH_CACHE, else $XDG_CACHE_HOME/platesearch, else ~/.cache/platesearch."""
    if os.environ.get("PLATESEARCH_CACHE"):
        return Path(os.environ["PLATESEARCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "platesearch"


def keep_library_files_in_cache() -> None:
    """Keras (keras.json) and matplotlib (font cache) write their own files on first use;
    point them into `cache_dir()` unless the user chose a place. EasyOCR's is set where its
    reader is made (localize.get_reader)."""
    os.environ.setdefault("KERAS_HOME", str(cache_dir() / "keras"))
    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))


def thread_budget(threads: int | None = None) -> int:
    """Threads for one pool: `threads`, else $PLATESEARCH_THREADS, else every core."""
    return threads or int(os.environ.get(THREADS_VARIABLE) or 0) or os.cpu_count() or 1


def share_cores(threads: int) -> None:
    """In a worker process: every pool created from now on gets `threads` threads."""
    import cv2

    os.environ[THREADS_VARIABLE] = str(threads)
    cv2.setNumThreads(threads)


def load_triton_before_tensorflow() -> None:
    """Import triton (torch's kernel compiler) first if it is installed.

    EasyOCR's torch imports triton lazily; importing triton's native modules after
    TensorFlow has loaded its own crashes the process (segfault, measured with torch 2.14 and
    TensorFlow 2.21). Loaded first, both live together; it costs about 0.3 s. If the caller
    imported TensorFlow already, importing triton now would crash: it is left out, and
    `check_torch_can_load` refuses with a clear error instead of crashing later.
    """
    if "tensorflow" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


def check_torch_can_load() -> None:
    if "tensorflow" in sys.modules and "triton" not in sys.modules and importlib.util.find_spec("triton"):
        raise RuntimeError(
            "tensorflow was imported before platesearch: EasyOCR's torch would then load triton after it, "
            "which crashes the process. Import platesearch (or triton) before tensorflow."
        )


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hold back what native code writes to stderr meanwhile; replay it if the block fails.

    TensorFlow 2.21 logs its start-up (oneDNN, CPU features, CUDA probing on a machine
    without a GPU) from C++ before TF_CPP_MIN_LOG_LEVEL takes effect: a dozen lines on
    every command. They say nothing when loading works, and are shown when it does not.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def configure_tensorflow(threads: int | None = None) -> int:
    """Import TensorFlow quietly with a fixed thread budget (see `thread_budget`)."""
    load_triton_before_tensorflow()
    with quiet_native_stderr():
        import tensorflow as tf

    threads = thread_budget(threads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already started: its pools are fixed for this process
    return threads


def configure_torch(threads: int | None = None) -> int:
    """Fix torch's thread pool (EasyOCR) to the budget; refuse an import order that would crash."""
    check_torch_can_load()
    import torch

    threads = thread_budget(threads)
    torch.set_num_threads(threads)
    return threads


def detector_precision() -> str:
    """How EasyOCR's text detector computes: $PLATESEARCH_DETECTOR_PRECISION if set, else
    "bfloat16" where the CPU computes it natively (AVX512-BF16 or AMX), else "float32".

    There bfloat16 is 3-4x faster than float32 (BENCHMARKS.md), and CPUs without it would
    emulate it slower than float32. The recognizers' features follow it in bfloat16
    (localize.recognizer_in); with "float32" or "int8" they compute in float32. "int8" is asked
    for, never chosen: it indexes 1.3-1.7x faster than bfloat16 on a CPU without AMX, and 1.4x
    faster than float32 on one with AVX2 only, but over every photo set it lost 19 top-1 hits
    of 2,343 and gained 4, where the text is weak (quantized_detector.py, RESULTS.md §0, "The
    detector in int8"; BENCHMARKS.md).
    """
    import torch

    chosen = os.environ.get(DETECTOR_PRECISION_VARIABLE, "").lower()
    if chosen in DETECTOR_PRECISIONS:
        return chosen
    if chosen:
        raise ValueError(f"${DETECTOR_PRECISION_VARIABLE} is {chosen!r}; use one of {', '.join(DETECTOR_PRECISIONS)}")
    native = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return "bfloat16" if any(check is not None and check() for check in native) else "float32"
