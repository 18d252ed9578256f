"""platesearch: find photos of a licence plate from its text."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
