"""The rapidocr engine (PP-OCRv6 small from the wheel through the CTC recogniser), on rendered plates."""

from __future__ import annotations

import numpy as np
import pytest

from config.ocr import OcrSettings
from ocr.base import OcrError, OcrResult, load_engine
from ocr.rapid import WHEEL_MODEL, wheel_model_path
from tests.ocr.test_preprocess import plate


def test_model_comes_from_the_installed_wheel():
    import rapidocr

    path = wheel_model_path()
    assert path.name == WHEEL_MODEL
    assert path.parent.parent == type(path)(rapidocr.__file__).parent
    with pytest.raises(OcrError, match="has no"):
        wheel_model_path("PP-OCRv99_rec.onnx")


def test_reads_a_rendered_plate(rapid_engine):
    (result,) = rapid_engine.read([plate(["ABC1234"])])
    assert result.text.replace(" ", "") == "ABC1234"
    assert len(result.char_confidences) == 7
    assert result.confidence == pytest.approx(np.mean(result.char_confidences))
    assert result.confidence > 0.8


def test_reads_a_two_row_plate_row_by_row(rapid_engine):
    (result,) = rapid_engine.read([plate(["AB12", "CD34"], width=220)])
    assert result.text == "AB12 CD34"


def test_one_result_per_crop_and_empty_for_bad_crops(rapid_engine):
    good = plate(["XY987"])
    crops = [
        None,
        good,
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((30, 90), np.float32),
        np.full((40, 120, 3), 255, np.uint8),
    ]
    results = rapid_engine.read(crops)
    assert len(results) == 5
    assert results[0] == results[2] == results[3] == OcrResult.empty()
    assert results[1].text.replace(" ", "") == "XY987"
    assert results[4].text == ""
    assert rapid_engine.read([]) == []


def test_a_read_does_not_depend_on_its_batch(rapid_engine):
    crops = [plate(["ABC1234"]), plate(["Q9"], width=120), plate(["LONGPLATE1234"], width=700)]
    together = rapid_engine.read(crops)
    alone = [rapid_engine.read([c])[0] for c in crops]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=1e-4)


def test_alphabet_restricts_the_output():
    engine = load_engine(OcrSettings(alphabet="0123456789"))
    (result,) = engine.read([plate(["AB1234"])])
    assert set(result.text) <= set("0123456789 ")


def test_min_confidence_empties_weak_reads():
    engine = load_engine(OcrSettings(min_confidence=1.0))
    assert engine.read([np.full((40, 160, 3), 128, np.uint8)]) == [OcrResult.empty()]


@pytest.mark.parametrize("shape", [(4, 4, 3), (4, 2000, 3), (2000, 6, 3), (5, 9), (300, 300, 4)])
def test_odd_shapes_never_raise(rapid_engine, shape):
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, size=shape, dtype=np.uint8)
    (result,) = rapid_engine.read([crop])
    assert isinstance(result, OcrResult)
