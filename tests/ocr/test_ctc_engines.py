"""The contract both CTC engines keep: ``rapidocr`` (PP-OCRv6 small on ONNX Runtime) and ``paddle``
(PP-OCRv4 on Paddle Inference) share one reader (:class:`ocr.ctc.CtcRecogniser`), on rendered plates."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.base import OcrResult
from tests.ocr.test_preprocess import plate

# engine fixture -> how far a crop's confidence may move with its batch neighbours (Paddle's CPU
# kernels round differently with the batch shape: measured up to 6e-4).
ENGINES = {"rapid_engine": 1e-4, "paddle_engine": 2e-3}
# ... and how far its lattice log-probabilities may (measured: 7e-5 with ONNX Runtime).
LATTICE_TOLERANCE = {"rapid_engine": 1e-3, "paddle_engine": 5e-2}


@pytest.fixture(params=sorted(ENGINES))
def engine(request):
    return request.param, request.getfixturevalue(request.param)


def test_reads_a_rendered_plate(engine):
    _, reader = engine
    (result,) = reader.read([plate(["ABC1234"])])
    assert result.text.replace(" ", "") == "ABC1234"
    assert len(result.char_confidences) == 7
    assert result.confidence == pytest.approx(np.mean(result.char_confidences))
    assert result.confidence > 0.8


def test_reads_a_two_row_plate_row_by_row(engine):
    _, reader = engine
    (result,) = reader.read([plate(["AB12", "CD34"], width=220)])
    assert result.text == "AB12 CD34"


def test_one_result_per_crop_and_empty_for_bad_crops(engine):
    _, reader = engine
    crops = [
        None,
        plate(["XY987"]),
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((30, 90), np.float32),
        np.full((40, 120, 3), 255, np.uint8),
    ]
    results = reader.read(crops)
    assert len(results) == 5
    assert results[0] == results[2] == results[3] == OcrResult.empty()
    assert results[1].text.replace(" ", "") == "XY987"
    assert results[4].text == ""
    assert reader.read([]) == []


def test_a_read_does_not_depend_on_its_batch(engine):
    name, reader = engine
    crops = [plate(["ABC1234"]), plate(["Q9"], width=120), plate(["LONGPLATE1234"], width=700)]
    together = reader.read(crops)
    alone = [reader.read([c])[0] for c in crops]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=ENGINES[name])
    # What the decoder sees, too: each line padded alike (the 700-px plate's line is wider than the
    # 320-px minimum input; it once made its neighbours' lines padded to its width: a log-probability
    # moved by 2.7 and a line lost a frame, and a real crop's decoded read changed with its batch).
    for a, b in zip(together, alone, strict=True):
        pairs = zip(a.lattices, b.lattices, strict=True)
        lines = [(x, y) for la, lb in pairs for x, y in zip(la.lines, lb.lines, strict=True)]
        assert lines and all(x.shape == y.shape for x, y in lines)
        assert max(float(np.abs(x - y).max()) for x, y in lines) < LATTICE_TOLERANCE[name]


@pytest.mark.parametrize("shape", [(4, 4, 3), (4, 2000, 3), (2000, 6, 3), (5, 9), (300, 300, 4)])
def test_odd_shapes_never_raise(engine, shape):
    _, reader = engine
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, size=shape, dtype=np.uint8)
    (result,) = reader.read([crop])
    assert isinstance(result, OcrResult)
