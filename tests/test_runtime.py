"""Process-level rules: library files stay in platesearch's cache, thread budgets, detector precision."""

import os
import subprocess
import sys

import pytest

from platesearch.runtime import detector_precision, thread_budget


@pytest.mark.slow
def test_libraries_write_only_into_the_cache_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import platesearch\n"
        "from platesearch.localize import get_reader\n"
        "from platesearch.model import default_embedder\n"
        "import matplotlib.pyplot\n"
        "get_reader(); default_embedder()\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KERAS_HOME", "MPLCONFIGDIR", "XDG_CACHE_HOME", "PLATESEARCH_CACHE")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written and all(path.startswith(".cache") for path in written), written
    assert all(
        path in (".cache", ".cache/platesearch") or path.startswith(".cache/platesearch/") for path in written
    ), written


def test_thread_budget_reads_the_environment(monkeypatch):
    monkeypatch.setenv("PLATESEARCH_THREADS", "3")
    assert thread_budget() == 3 and thread_budget(1) == 1
    monkeypatch.setenv("PLATESEARCH_THREADS", "")  # set but empty: as if unset
    assert thread_budget() == (os.cpu_count() or 1)
    monkeypatch.delenv("PLATESEARCH_THREADS")
    assert thread_budget() == (os.cpu_count() or 1)


def test_detector_precision_follows_the_environment_then_the_cpu(monkeypatch):
    import torch

    monkeypatch.setenv("PLATESEARCH_DETECTOR_PRECISION", "float32")
    assert detector_precision() == "float32"
    monkeypatch.setenv("PLATESEARCH_DETECTOR_PRECISION", "BFloat16")
    assert detector_precision() == "bfloat16"
    monkeypatch.setenv("PLATESEARCH_DETECTOR_PRECISION", "INT8")
    assert detector_precision() == "int8"
    monkeypatch.setenv("PLATESEARCH_DETECTOR_PRECISION", "half")
    with pytest.raises(ValueError, match="int8, bfloat16, float32"):
        detector_precision()
    monkeypatch.delenv("PLATESEARCH_DETECTOR_PRECISION")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert detector_precision() == "float32"  # never int8 unless asked
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert detector_precision() == "bfloat16"
