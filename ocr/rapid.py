"""Engine ``rapidocr``: PaddleOCR's PP-OCRv6 small recogniser as shipped inside the ``rapidocr`` wheel.

Recognition only, on the plate crop: the ONNX file is taken from the installed wheel's package
data and run by :class:`ocr.ctc.CtcRecogniser`, so nothing is ever downloaded (rapidocr's own
pipeline would fetch a model that is missing) and no rapidocr flag can carry over between calls.
"""

from __future__ import annotations

from config.ocr import OcrSettings
from ocr.ctc import CtcRecogniser, read_charset
from ocr.lines import load_line_finder
from ocr.sessions import open_session, wheel_model_path


def load_rapidocr(settings: OcrSettings) -> CtcRecogniser:
    """PP-OCRv6 small (or ``settings.model_path``) with the wheel's charset metadata."""
    path = settings.model_path or wheel_model_path()
    session = open_session(path, settings.threads)
    charset = read_charset(session, settings.charset_path)
    return CtcRecogniser(session, charset, settings, load_line_finder(settings))
