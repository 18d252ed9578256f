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
