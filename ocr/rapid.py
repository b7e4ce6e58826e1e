"""Engine ``rapidocr``: PaddleOCR's PP-OCRv6 small recogniser as shipped inside the ``rapidocr`` wheel.

Recognition only, on the plate crop: the ONNX file is taken from the installed wheel's package
data and run by :class:`ocr.ctc.CtcRecogniser`, so nothing is ever downloaded (rapidocr's own
pipeline would fetch a model that is missing) and no rapidocr flag can carry over between calls.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from config.ocr import OcrSettings
from ocr.base import OcrError
from ocr.ctc import CtcRecogniser, open_session, read_charset
from ocr.lines import LineFinder

WHEEL_MODEL = "PP-OCRv6_rec_small.onnx"
WHEEL_DETECTOR = "PP-OCRv6_det_small.onnx"


def wheel_model_path(name: str = WHEEL_MODEL) -> Path:
    """Path of a model file inside the installed ``rapidocr`` wheel; :class:`OcrError` if absent."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise OcrError("ocr.type=rapidocr: the rapidocr wheel is not installed (pip install 'rapidocr>=3,<4')")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise OcrError(f"ocr.type=rapidocr: the installed rapidocr wheel has no {name} (looked at {path})")
    return path


def load_rapidocr(settings: OcrSettings) -> CtcRecogniser:
    """PP-OCRv6 small (or ``settings.model_path``) with the wheel's charset metadata."""
    path = settings.model_path or wheel_model_path()
    session = open_session(path, settings.threads)
    charset = read_charset(session, settings.charset_path)
    return CtcRecogniser(session, charset, settings, load_line_finder(settings))


def load_line_finder(settings: OcrSettings) -> LineFinder | None:
    """The wheel's PP-OCRv6 text detector when ``settings.rows`` asks for detected lines."""
    if settings.rows not in ("detect", "both"):
        return None
    return LineFinder(wheel_model_path(WHEEL_DETECTOR), settings.threads)
