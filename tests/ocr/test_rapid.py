"""The rapidocr engine (PP-OCRv6 small from the wheel through the CTC recogniser), on rendered plates;
the reading contract it shares with the paddle engine is in test_ctc_engines.py."""

from __future__ import annotations

import numpy as np
import pytest

from config.ocr import OcrSettings
from ocr.base import OcrError, OcrResult
from ocr.registry import load_engine
from ocr.sessions import WHEEL_MODEL, wheel_model_path
from tests.ocr.test_preprocess import plate


def test_model_comes_from_the_installed_wheel():
    import rapidocr

    path = wheel_model_path()
    assert path.name == WHEEL_MODEL
    assert path.parent.parent == type(path)(rapidocr.__file__).parent
    with pytest.raises(OcrError, match="has no"):
        wheel_model_path("PP-OCRv99_rec.onnx")


def test_alphabet_restricts_the_output():
    engine = load_engine(OcrSettings(alphabet="0123456789"))
    (result,) = engine.read([plate(["AB1234"])])
    assert set(result.text) <= set("0123456789 ")


def test_min_confidence_empties_weak_reads():
    engine = load_engine(OcrSettings(min_confidence=1.0))
    assert engine.read([np.full((40, 160, 3), 128, np.uint8)]) == [OcrResult.empty()]
