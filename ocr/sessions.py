"""ONNX Runtime sessions of the engines, and the model files the ``rapidocr`` wheel ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ocr.base import OcrError
from ocr.denormals import session_source

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


def open_session(model_path: Path, threads: int):  # -> onnxruntime.InferenceSession
    """An ONNX Runtime CPU session; :class:`OcrError` when the file is missing or not a model.

    The model's denormal weights are set to zero first (:mod:`ocr.denormals`: PP-OCRv6's text
    detector runs about 3x faster on one core, its outputs unchanged)."""
    import onnxruntime as ort

    if not model_path.is_file():
        raise OcrError(f"ocr.model_path: no model file at {model_path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(session_source(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # OSError, ModelFormatError, and onnxruntime's several unrelated types
        raise OcrError(f"ocr.model_path: cannot load {model_path}: {exc}") from exc
