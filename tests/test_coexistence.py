"""TensorFlow (our model) and torch (EasyOCR) in one process, in the order indexing loads them."""

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np
from platesearch.model import default_embedder
from platesearch.render import render_plate
from platesearch.localize import get_reader
default_embedder().embed(render_plate("AB123")[None])  # TensorFlow first
get_reader().detect(np.zeros((64, 64, 3), np.uint8))  # then torch and triton
print("both loaded")
"""


@pytest.mark.slow
def test_model_then_easyocr_in_one_process():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "both loaded" in result.stdout


TENSORFLOW_FIRST = """
import tensorflow  # before platesearch: triton can no longer be loaded safely
import numpy as np
from platesearch.model import default_embedder
from platesearch.render import render_plate
print(default_embedder().embed(render_plate("AB123")[None]).shape)  # queries still work
from platesearch.localize import get_reader
get_reader()
"""


@pytest.mark.slow
def test_tensorflow_imported_first_is_a_clear_error_not_a_crash():
    result = subprocess.run([sys.executable, "-c", TENSORFLOW_FIRST], capture_output=True, text=True, timeout=300)
    assert "(1, 256)" in result.stdout, result.stderr[-2000:]
    assert result.returncode == 1 and "Import platesearch (or triton) before tensorflow" in result.stderr
