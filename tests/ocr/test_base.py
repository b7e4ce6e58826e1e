"""The OcrResult record, the registry and engine setup errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.ocr import OcrSettings
from ocr.base import OcrEngine, OcrError, OcrResult
from ocr.registry import ENGINES, load_engine


@pytest.mark.parametrize(
    ("confidence", "chars"),
    [(-0.1, ()), (1.5, ()), (0.5, (0.2, 1.2)), (0.5, (-0.01,))],
)
def test_result_rejects_out_of_range_confidences(confidence, chars):
    with pytest.raises(ValueError, match="OcrResult"):
        OcrResult("AB12", confidence, chars)


def test_empty_result():
    assert OcrResult.empty() == OcrResult("", 0.0, ())


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(OcrError, match=r"unknown engine 'tesseract'; known: .*onnx_ctc, .*rapidocr"):
        load_engine(OcrSettings(type="tesseract"))


def test_onnx_ctc_needs_a_model_path():
    with pytest.raises(OcrError, match="needs a model file"):
        load_engine(OcrSettings(type="onnx_ctc"))


def test_missing_model_file(tmp_path: Path):
    with pytest.raises(OcrError, match="no model file"):
        load_engine(OcrSettings(type="onnx_ctc", model_path=tmp_path / "missing.onnx"))


def test_corrupt_model_file(tmp_path: Path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(OcrError, match="cannot load"):
        load_engine(OcrSettings(type="onnx_ctc", model_path=bad))


def test_charset_that_does_not_fit_the_model(tmp_path: Path):
    from ocr.sessions import wheel_model_path

    charset = tmp_path / "chars.txt"
    charset.write_text("A\nB\nC\n", encoding="utf-8")
    with pytest.raises(OcrError, match="classes but the charset gives 5"):
        load_engine(OcrSettings(type="onnx_ctc", model_path=wheel_model_path(), charset_path=charset))


def test_settings_forbid_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError):
        OcrSettings(typo=1)
    with pytest.raises(ValidationError):
        OcrSettings(padding=0.9)
    with pytest.raises(ValidationError):
        OcrSettings(rows="three")


def test_registry_plugs_in_a_new_engine(monkeypatch):
    class Upper:
        def read(self, images):
            return [OcrResult("X", 1.0, (1.0,)) for _ in images]

    monkeypatch.setitem(ENGINES, "upper", lambda settings: Upper())
    engine = load_engine(OcrSettings(type="upper"))
    assert isinstance(engine, OcrEngine)
    assert engine.read([None, None]) == [OcrResult("X", 1.0, (1.0,))] * 2
