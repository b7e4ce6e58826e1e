"""Object detectors behind one small protocol, selected by ``type`` from :data:`DETECTORS`.

Usage (also by ``alpr eval``)::

    detector = load_detector(settings.edge.detector)
    dets = detector.detect(frame_bgr)      # Detections: xyxy (N, 4) float32, confidence (N,), class_id (N,)

Backends:

- ``onnx`` (default): ONNX Runtime on CPU, or CUDA when the provider is present. YOLOv8-style
  output ``(1, 4 + classes, anchors)``; letterbox preprocessing and NMS are done here with
  numpy/cv2, so no torch is needed.
- ``yolox``: YOLOX ONNX exports (the shipped vehicle model, ``models/yolox_nano_coco.onnx``):
  BGR 0-255 input letterboxed at the top-left on grey 114, grid decoding of strides 8/16/32,
  score = objectness x class probability, class-agnostic NMS.
- ``ultralytics`` (optional extra ``gpu``): ``.pt``, ``.onnx`` or TensorRT ``.engine`` through
  ``ultralytics.YOLO``; imported only when selected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from config.edge import DEFAULT_PLATE_MODEL, DEFAULT_PLATE_MODEL_INT8, DEFAULT_VEHICLE_MODEL, DetectorSettings
from ocr.denormals import session_source

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "Detections",
    "Detector",
    "DetectorError",
    "OnnxDetector",
    "UltralyticsDetector",
    "SecondLook",
    "YoloxDetector",
    "letterbox",
    "load_detector",
    "nms",
]


class DetectorError(RuntimeError):
    """A detector could not be loaded or run (bad model path, missing backend, bad frame)."""


@dataclass(frozen=True, slots=True)
class Detections:
    """Boxes of one frame in frame pixels.

    ``xyxy`` (N, 4) float32 (x1, y1, x2, y2), ``confidence`` (N,) float32, ``class_id`` (N,) int32.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must have shape (N, 4), got {self.xyxy.shape}")
        if self.confidence.shape != (n,) or self.class_id.shape != (n,):
            raise ValueError(
                f"Detections: confidence {self.confidence.shape} and class_id {self.class_id.shape} must be ({n},)"
            )

    @classmethod
    def empty(cls) -> Detections:
        """No boxes."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, mask: np.ndarray) -> Detections:
        """The detections where ``mask`` (N,) bool or an index array selects."""
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_id[mask])


class Detector(Protocol):
    """Anything that turns a BGR frame (H, W, 3) uint8 into :class:`Detections` in frame pixels."""

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...


def letterbox(
    frame_bgr: np.ndarray, size: int, rect: bool, stride: int = 32
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping aspect ratio and pad with grey (114) to the network input.

    Returns the NCHW float32 RGB blob in [0, 1], the scale applied and the (left, top) padding.
    With ``rect`` the padded shape is the smallest multiple of ``stride`` holding the resized frame
    (fewer pixels for 16:9 video); otherwise it is ``size x size``. The input is not modified.
    """
    h, w = frame_bgr.shape[:2]
    scale = min(size / h, size / w)
    new_w, new_h = round(w * scale), round(h * scale)
    if rect:
        out_w, out_h = -(-new_w // stride) * stride, -(-new_h // stride) * stride
    else:
        out_w = out_h = size
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    resized = (
        frame_bgr if (new_w, new_h) == (w, h) else cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    padded = cv2.copyMakeBorder(
        resized,
        top,
        out_h - new_h - top,
        left,
        out_w - new_w - left,
        cv2.BORDER_CONSTANT,
        value=(114, 114, 114),
    )
    blob = cv2.dnn.blobFromImage(padded, scalefactor=1 / 255.0, swapRB=True)
    return blob, scale, (left, top)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, max_det: int) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first. ``xyxy`` (N, 4), ``scores`` (N,)."""
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou_threshold, top_k=max_det)
    return np.asarray(keep, np.int64).reshape(-1)


def decode_yolo(
    output: np.ndarray, conf_threshold: float, classes: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores, class ids above the threshold from a YOLOv8 ``(4+C, A)`` output."""
    scores_all = output[4:]
    class_id = scores_all.argmax(axis=0)
    scores = scores_all[class_id, np.arange(scores_all.shape[1])]
    keep = scores >= conf_threshold
    if classes is not None:
        keep &= np.isin(class_id, classes)
    cxcywh = output[:4, keep].T
    half = cxcywh[:, 2:] / 2
    xyxy = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
    return xyxy.astype(np.float32), scores[keep].astype(np.float32), class_id[keep].astype(np.int32)


class OnnxDetector:
    """YOLOv8-style ONNX model on ONNX Runtime (CPU, or CUDA when available)."""

    def __init__(self, settings: DetectorSettings) -> None:
        if settings.model is not None:
            path = Path(settings.model)
        elif _providers(settings)[0] == "CPUExecutionProvider":
            path = DEFAULT_PLATE_MODEL_INT8
        else:
            path = DEFAULT_PLATE_MODEL
        self._session = _onnx_session(path, settings, "onnx")
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        fixed = [d for d in model_input.shape[2:] if isinstance(d, int)]
        # A fixed-shape export only accepts its own square size.
        self._size = fixed[0] if len(fixed) == 2 else settings.input_size
        self._rect = settings.rect and not fixed
        self._settings = settings
        self.providers = tuple(self._session.get_providers())
        self.model_path = path
        log.info("onnx detector %s on %s, input %s rect=%s", path.name, self.providers, self._size, self._rect)

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Detect objects in one BGR frame (H, W, 3) uint8; boxes in frame pixels."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.size == 0:
            raise DetectorError(f"onnx detector: expected a (H, W, 3) frame, got shape {frame_bgr.shape}")
        blob, scale, pad = letterbox(frame_bgr, self._size, self._rect)
        output = self._session.run(None, {self._input_name: blob})[0][0]
        return self._postprocess(output, scale, pad, frame_bgr.shape)

    def detect_batch(self, frames_bgr: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in several frames (e.g. one per camera) with ONE inference call.

        Frames of one shape keep the rectangular letterbox; mixed shapes are letterboxed to the
        square input. Results equal :meth:`detect` on each frame (up to float rounding).
        """
        if not frames_bgr:
            return []
        for frame in frames_bgr:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.size == 0:
                raise DetectorError(f"onnx detector: expected (H, W, 3) frames, got shape {frame.shape}")
        rect = self._rect and len({f.shape for f in frames_bgr}) == 1
        boxed = [letterbox(f, self._size, rect) for f in frames_bgr]
        outputs = self._session.run(None, {self._input_name: np.concatenate([b[0] for b in boxed])})[0]
        return [
            self._postprocess(out, scale, pad, frame.shape)
            for out, (_, scale, pad), frame in zip(outputs, boxed, frames_bgr, strict=True)
        ]

    def _postprocess(
        self, output: np.ndarray, scale: float, pad: tuple[int, int], shape: tuple[int, ...]
    ) -> Detections:
        """Threshold, NMS and map one image's ``(4+C, A)`` output back to frame pixels."""
        s = self._settings
        left, top = pad
        xyxy, scores, class_id = decode_yolo(output, s.conf_threshold, s.classes)
        keep = nms(xyxy, scores, s.iou_threshold, s.max_detections)
        xyxy = xyxy[keep]
        xyxy -= np.array([left, top, left, top], np.float32)
        xyxy /= scale
        h, w = shape[:2]
        np.clip(xyxy, 0, [w, h, w, h], out=xyxy)
        return Detections(xyxy.astype(np.float32), scores[keep], class_id[keep])


def _providers(settings: DetectorSettings) -> list[str]:
    """The providers of ``settings.providers`` this ONNX Runtime has, in order (CPU when none)."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return [p for p in settings.providers if p in available] or ["CPUExecutionProvider"]


def _onnx_session(path: Path, settings: DetectorSettings, kind: str):  # noqa: ANN202
    """An ONNX Runtime session on the first available provider of ``settings.providers``."""
    import onnxruntime as ort

    providers = _providers(settings)
    if not path.is_file():
        raise DetectorError(f"{kind} detector: model file {str(path)!r} not found")
    options = ort.SessionOptions()
    if settings.threads:
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        # Denormal weights zeroed: x86 multiplies with them on a slow path (ocr.denormals).
        return ort.InferenceSession(session_source(path), options, providers=providers)
    except Exception as exc:  # OSError, ModelFormatError, and onnxruntime's own untyped errors
        raise DetectorError(f"{kind} detector: cannot load {str(path)!r}: {exc}") from exc


def yolox_grid(size: int, strides: tuple[int, ...] = (8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell offsets (A, 2) float32 (gx, gy) and their strides (A, 1) of a ``size`` x ``size`` YOLOX input."""
    cells, scales = [], []
    for stride in strides:
        n = size // stride
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        scales.append(np.full((n * n, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(scales).astype(np.float32)


class YoloxDetector:
    """YOLOX ONNX export (fixed square input, raw grid output ``(1, A, 5 + C)``) on ONNX Runtime.

    Pre- and post-processing as YOLOX's own ``demo/ONNXRuntime``: the BGR frame (0-255, no
    normalisation) resized by ``r = min(S/h, S/w)`` and pasted at the top-left of an S x S canvas
    of 114; boxes decoded from the grid, score = objectness x class probability, NMS across classes.
    """

    def __init__(self, settings: DetectorSettings) -> None:
        path = Path(settings.model) if settings.model is not None else DEFAULT_VEHICLE_MODEL
        self._session = _onnx_session(path, settings, "yolox")
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        fixed = [d for d in model_input.shape[2:] if isinstance(d, int)]
        self._size = fixed[0] if fixed else settings.input_size
        self._grid, self._strides = yolox_grid(self._size)
        self._settings = settings
        self._classes = np.asarray(settings.classes, np.int64) if settings.classes is not None else None
        self.providers = tuple(self._session.get_providers())
        self.model_path = path
        log.info("yolox detector %s on %s, input %s", path.name, self.providers, self._size)

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Detect objects in one BGR frame (H, W, 3) uint8; boxes in frame pixels."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.size == 0:
            raise DetectorError(f"yolox detector: expected a (H, W, 3) frame, got shape {frame_bgr.shape}")
        size = self._size
        h, w = frame_bgr.shape[:2]
        r = min(size / h, size / w)
        resized = cv2.resize(frame_bgr, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
        canvas = np.full((size, size, 3), 114, np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = cv2.dnn.blobFromImage(canvas)  # NCHW float32, BGR 0-255 as is
        output = self._session.run(None, {self._input_name: blob})[0][0]
        if output.shape[0] != len(self._grid):
            raise DetectorError(f"yolox detector: expected {len(self._grid)} grid rows, got {output.shape}")
        return self._postprocess(output, r, w, h)

    def _postprocess(self, output: np.ndarray, r: float, w: int, h: int) -> Detections:
        s = self._settings
        probs = output[:, 5:]
        if self._classes is not None:
            probs = probs[:, self._classes]
        best = probs.argmax(axis=1)
        scores = output[:, 4] * probs[np.arange(len(best)), best]
        keep = scores >= s.conf_threshold
        if not keep.any():
            return Detections.empty()
        out, grid, strides = output[keep], self._grid[keep], self._strides[keep]
        centre = (out[:, :2] + grid) * strides
        half = np.exp(out[:, 2:4]) * strides / 2
        xyxy = np.concatenate([centre - half, centre + half], axis=1) / r
        class_id = best[keep] if self._classes is None else self._classes[best[keep]]
        scores = scores[keep]
        kept = nms(xyxy, scores, s.iou_threshold, s.max_detections)
        xyxy = np.clip(xyxy[kept], 0, [w, h, w, h]).astype(np.float32)
        return Detections(xyxy, scores[kept].astype(np.float32), class_id[kept].astype(np.int32))


class UltralyticsDetector:
    """``ultralytics.YOLO`` (``.pt``, ``.onnx``, TensorRT ``.engine``); needs the ``gpu`` extra."""

    def __init__(self, settings: DetectorSettings) -> None:
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise DetectorError(
                "ultralytics detector: the ultralytics package is not installed (pip install 'alpr-platform[gpu]')"
            ) from exc
        if settings.model is None:
            raise DetectorError("ultralytics detector: set detector.model (.pt, .onnx or .engine weights)")
        path = Path(settings.model)
        if not path.is_file():
            raise DetectorError(f"ultralytics detector: model file {str(path)!r} not found")
        self._model = YOLO(str(path), task="detect")
        self._settings = settings

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Detect objects in one BGR frame; boxes in frame pixels."""
        s = self._settings
        result = self._model.predict(
            frame_bgr,
            imgsz=s.input_size,
            conf=s.conf_threshold,
            iou=s.iou_threshold,
            max_det=s.max_detections,
            classes=list(s.classes) if s.classes is not None else None,
            device=s.device,
            verbose=False,
        )[0]
        boxes = result.boxes
        return Detections(
            boxes.xyxy.cpu().numpy().astype(np.float32),
            boxes.conf.cpu().numpy().astype(np.float32),
            boxes.cls.cpu().numpy().astype(np.int32),
        )


#: Backend name (``detector.type`` in config) -> factory.
DETECTORS: dict[str, Callable[[DetectorSettings], Detector]] = {
    "onnx": OnnxDetector,
    "ultralytics": UltralyticsDetector,
    "yolox": YoloxDetector,
}


class SecondLook:
    """A detector that looks again, with a second detector (a larger input), at frames where the
    first finds nothing (``detector.retry_size``).

    Small, distant plates fall under the first pass's input resolution; a larger input finds
    more of them at (larger / first)^2 the cost, paid only on frames with no box. Frames where the
    first pass found anything keep exactly its boxes.
    """

    def __init__(self, first: Detector, second: Detector) -> None:
        self.first = first
        self.second = second

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """The first detector's boxes, or the second's when the first found none."""
        found = self.first.detect(frame_bgr)
        return found if len(found) else self.second.detect(frame_bgr)

    def detect_batch(self, frames_bgr: Sequence[np.ndarray]) -> list[Detections]:
        """:meth:`detect` on each frame; batched where both detectors batch."""
        first, second = self.first, self.second
        if not (hasattr(first, "detect_batch") and hasattr(second, "detect_batch")):
            return [self.detect(f) for f in frames_bgr]
        found = first.detect_batch(frames_bgr)
        empty = [i for i, d in enumerate(found) if not len(d)]
        if empty:
            for i, d in zip(empty, second.detect_batch([frames_bgr[i] for i in empty]), strict=True):
                found[i] = d
        return found


def load_detector(settings: DetectorSettings | Settings) -> Detector:
    """Build the detector named by ``type`` (:class:`DetectorSettings`, or the root settings' plate detector),
    with a :class:`SecondLook` at ``retry_size`` when that is set.

    Raises :class:`DetectorError` for unknown types or unloadable models.
    """
    if not isinstance(settings, DetectorSettings):
        settings = settings.edge.detector
    factory = DETECTORS.get(settings.type)
    if factory is None:
        raise DetectorError(f"detector.type {settings.type!r} unknown; known: {', '.join(sorted(DETECTORS))}")
    if settings.retry_size is None:
        return factory(settings)
    larger = settings.model_copy(update={"input_size": settings.retry_size, "retry_size": None})
    return SecondLook(factory(settings), factory(larger))
