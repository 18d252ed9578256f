"""`import platesearch`: the public API, loaded lazily so the import stays fast."""

import subprocess
import sys

import pytest

import platesearch


def test_import_loads_no_model_runtime():
    code = (
        "import sys, platesearch; print(sorted(m for m in ('tensorflow', 'torch', 'faiss', 'cv2') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_public_name_resolves():
    for name in platesearch.__all__:
        assert getattr(platesearch, name) is not None
    assert platesearch.normalize_plate("aa 5149 ek") == "AA5149EK"
    assert platesearch.render_plate("AA5149EK").shape == (64, 512)
    assert platesearch.PlateIndex.__module__ == "platesearch.pipeline"


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="nothing_here"):
        platesearch.nothing_here  # noqa: B018
