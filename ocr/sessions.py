"""ONNX Runtime sessions of the engines, and the model files the ``rapidocr`` wheel ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ocr.base import OcrError

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
    """An ONNX Runtime CPU session; :class:`OcrError` when the file is missing or not a model."""
    import onnxruntime as ort

    if not model_path.is_file():
        raise OcrError(f"ocr.model_path: no model file at {model_path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
        raise OcrError(f"ocr.model_path: cannot load {model_path}: {exc}") from exc
