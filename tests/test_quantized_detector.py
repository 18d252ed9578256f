import shutil
from pathlib import Path

import cv2
import pytest

from platesearch import localize as loc
from platesearch.datasets import load_dataset
from platesearch.metrics import box_iou
from platesearch.quantized_detector import RANGES, RANGES_MANIFEST, int8_detector

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHOTOS = ROOT / "datasets" / "sample" / "photos"
SAMPLE_IMAGES = SAMPLE_PHOTOS / "images"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detectors():
    """EasyOCR's float32 detector and the int8 one made from the same weights."""
    import copy

    float32 = loc.plain_reader().detector.eval()
    return float32, int8_detector(copy.deepcopy(float32))


@pytest.mark.parametrize(("vnni", "backend"), [(True, "onednn"), (False, "x86")])
def test_the_int8_detectors_score_maps_stay_near_float32s(monkeypatch, detectors, vnni, backend):
    """Either backend: 8-bit activations where the CPU has VNNI, 7-bit ones (x86) elsewhere."""
    import copy

    import torch

    float32, _ = detectors
    monkeypatch.setattr(torch.backends.quantized, "engine", torch.backends.quantized.engine)  # restored after
    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: vnni)
    int8 = int8_detector(copy.deepcopy(float32))
    assert torch.backends.quantized.engine == backend
    photo = cv2.imread(str(sorted(SAMPLE_IMAGES.glob("*.jpg"))[0]))
    batch, _ = loc.detector_input(photo, loc.detector_canvas(photo.shape))
    with torch.no_grad():
        expected, quantized = float32(batch)[0], int8(batch)[0]
    assert quantized.dtype == torch.float32 and quantized.shape == expected.shape
    difference = (quantized - expected).abs().flatten()
    print(
        backend, "largest and 99.9th-percentile difference", float(difference.max()), float(difference.quantile(0.999))
    )
    assert float(difference.quantile(0.999)) < 0.05  # a wrong range puts most of the map off by ~1
    assert float(difference.max()) < 0.3
    assert float(expected.max()) > 0.5  # the photo has text: the comparison means something


def test_the_int8_detector_finds_the_sample_plates(monkeypatch, detectors):
    _, int8 = detectors
    reader = loc.get_reader()
    monkeypatch.setattr(reader, "detector", int8)
    items = load_dataset(SAMPLE_PHOTOS).items[:2]
    for item in items:
        candidates = loc.localize(cv2.imread(str(item.path)))
        assert any(box_iou(c.box, item.box) >= 0.3 for c in candidates), item.plate


def test_ranges_that_do_not_match_their_manifest_are_refused(tmp_path, detectors):
    float32, _ = detectors
    tampered = tmp_path / RANGES.name
    shutil.copy(RANGES, tampered)
    with tampered.open("ab") as file:
        file.write(b"\0")
    with pytest.raises(RuntimeError, match="unknown origin"):
        int8_detector(float32, ranges=tampered, manifest=RANGES_MANIFEST)


def test_the_shipped_ranges_are_what_the_calibration_command_observes(detectors):
    """experiments/calibrate_detector.py reproduces the shipped ranges (to float rounding: another
    CPU's kernels may sum in another order)."""
    import copy
    import importlib.util

    import torch

    from platesearch.quantized_detector import observed_detector, observed_ranges

    spec = importlib.util.spec_from_file_location("calibrate_detector", ROOT / "experiments" / "calibrate_detector.py")
    calibration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibration)
    float32, _ = detectors
    observed = observed_detector(copy.deepcopy(float32))
    with torch.no_grad():
        for _, batch in calibration.calibration_inputs(calibration.SAMPLE):
            observed(batch)
    shipped = torch.load(RANGES, weights_only=True)
    observed_now = observed_ranges(observed)
    assert shipped.keys() == observed_now.keys()
    for name in (n for n in shipped if n.endswith(("min_val", "max_val"))):
        assert torch.allclose(observed_now[name], shipped[name], rtol=1e-3, atol=1e-4), name
