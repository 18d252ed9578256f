"""EasyOCR's text detector (CRAFT) with its weights and activations in int8, when asked for
($PLATESEARCH_DETECTOR_PRECISION=int8, runtime.detector_precision).

On a CPU without AMX the detector's convolutions are most of indexing's time, and int8 ones run
about twice as fast as bfloat16 there (VNNI instructions: a 960x544 canvas in 0.90 CPU s against
1.87 on a 2-core AMD EPYC with AVX512-BF16). Weights are quantized per output channel from
themselves; activations need ranges, observed once on the bundled sample photos
(`experiments/calibrate_detector.py` writes RANGES and its manifest) and shipped, so every
process quantizes the same way and none looks at data to start. Activations get 8 bits where
the CPU has VNNI (torch's onednn backend); torch's x86 backend keeps 7 to avoid overflow
without it. Either way weak text scores lower than in float, and some weak plates go unfound
or misread: never the default (RESULTS.md §0, "The detector in int8"; BENCHMARKS.md).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platesearch.config import PACKAGE_DIR
from platesearch.media import file_sha256

RANGES = PACKAGE_DIR / "weights" / "detector_int8_ranges.pt"
RANGES_MANIFEST = PACKAGE_DIR / "weights" / "detector_int8_ranges.json"
OBSERVER = "activation_post_process"  # how torch names the observers prepare_fx adds


def quantization_backend() -> str:
    """torch's onednn backend (8-bit activations) where VNNI sums 8-bit products without
    overflow, else its x86 one (7-bit activations, `reduce_range`)."""
    import torch

    vnni = getattr(torch.cpu, "_is_vnni_supported", None)  # private: absent from some torch builds
    return "onednn" if vnni is not None and vnni() else "x86"


def observed_detector(craft):
    """The float network with an observer after each quantized layer: run it on calibration
    canvases, then `convert_fx` quantizes with the ranges they saw. Batch norms are folded
    into their convolutions on the way (prepare_fx fuses them)."""
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    backend = quantization_backend()
    torch.backends.quantized.engine = backend
    with _quiet_qconfig():
        return prepare_fx(craft.eval(), get_default_qconfig_mapping(backend), (torch.zeros(1, 3, 64, 64),))


@contextmanager
def _quiet_qconfig() -> Iterator[None]:
    """torch warns, in every process, that the x86 qconfig's own `reduce_range` will be deprecated."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reduce_range will be deprecated", category=UserWarning)
        yield


def observed_ranges(observed) -> dict:
    """What the observers of `observed_detector` saw (their histograms and bounds): RANGES' content.
    Either backend observes the same; how many bits the ranges get is chosen at `convert_fx`."""
    return {name: value for name, value in observed.state_dict().items() if OBSERVER in name}


def int8_detector(craft, ranges: Path = RANGES, manifest: Path = RANGES_MANIFEST):
    """`craft` quantized with the shipped activation ranges, float32 score maps out as EasyOCR
    expects; the ranges are checked against their manifest."""
    import torch
    from torch.ao.quantization.quantize_fx import convert_fx

    expected = json.loads(manifest.read_text())["sha256"]
    if file_sha256(ranges) != expected:
        raise RuntimeError(f"{ranges} does not match {manifest.name}: refusing ranges of unknown origin")
    observed = observed_detector(craft)
    loaded = observed.load_state_dict(torch.load(ranges, map_location="cpu", weights_only=True), strict=False)
    unobserved = [name for name in loaded.missing_keys if OBSERVER in name]
    if unobserved or loaded.unexpected_keys:
        raise RuntimeError(
            f"{ranges} does not fit this detector ({len(unobserved)} ranges missing, "
            f"{len(loaded.unexpected_keys)} unexpected): run experiments/calibrate_detector.py"
        )
    with _quiet_qconfig():
        return convert_fx(observed).eval()
