"""Settings of the edge node (`alpr edge`): cameras, detector, tracker, crops, publishing.

Owned by the edge. Every model forbids unknown keys. Times are in seconds, never frames,
so a camera running at 10 fps behaves like one at 30 fps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MODELS = Path(__file__).resolve().parents[1] / "models"
#: The plate detector shipped in ``models/`` (see ``models/manifest.json``): float32, for GPUs.
DEFAULT_PLATE_MODEL = _MODELS / "plate_yolov8n_safelicensing.onnx"
#: The same detector quantised to int8 (QDQ), about twice as fast on CPUs.
DEFAULT_PLATE_MODEL_INT8 = _MODELS / "plate_yolov8n_safelicensing_int8.onnx"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    """One camera: a video file, an RTSP URL or a V4L2 device."""

    id: str = Field(
        ..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Camera id (Kafka key)."
    )
    url: str = Field(..., min_length=1, description="File path, rtsp://..., or /dev/videoN.")
    loop: bool = Field(False, description="Loop a video file forever.")
    fps_cap: float = Field(15.0, gt=0, le=240, description="Frames per second processed at most.")
    realtime: bool | None = Field(
        None,
        description=(
            "Live pacing: keep only the newest frame and count drops. Default: true for RTSP/devices, "
            "false for files (every frame under the fps cap is processed, none dropped)."
        ),
    )
    roi: tuple[tuple[float, float], ...] | None = Field(
        None,
        description="Region of interest, pixels [[x, y], ...] (>= 3 points); plates outside are ignored.",
    )
    decode: Literal["auto", "cpu", "hw"] = Field(
        "auto", description="auto: hardware decode (NVDEC/VA-API through FFmpeg) when available, else CPU."
    )
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="First reconnect delay; doubles each try.")
    reconnect_max_s: float = Field(30.0, gt=0, le=600, description="Longest reconnect delay.")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Open/read timeout of network streams.")

    @field_validator("roi")
    @classmethod
    def _polygon(
        cls, value: tuple[tuple[float, float], ...] | None
    ) -> tuple[tuple[float, float], ...] | None:
        if value is not None and len(value) < 3:
            raise ValueError(f"roi needs at least 3 points, got {len(value)}")
        return value


class DetectorSettings(_Strict):
    """A detector backend, chosen by ``type`` from the registry in ``edge.detect``."""

    type: str = Field(
        "onnx", min_length=1, description="Backend: onnx (default, ONNX Runtime) or ultralytics."
    )
    model: Path | None = Field(
        None,
        description=(
            "Weights: .onnx (onnx); .pt/.onnx/.engine (ultralytics). None: the shipped plate detector, "
            "int8 on CPU, float32 when CUDA is used."
        ),
    )
    input_size: int = Field(
        512,
        ge=64,
        le=2048,
        multiple_of=32,
        description="Longest side of the network input (512: best recall and speed, see edge/README.md).",
    )
    rect: bool = Field(
        True,
        description="Letterbox to the smallest stride-32 rectangle (dynamic-shape models), not a square.",
    )
    conf_threshold: float = Field(0.25, ge=0, le=1, description="Boxes below this confidence are dropped.")
    iou_threshold: float = Field(0.5, gt=0, le=1, description="Non-maximum suppression IoU.")
    max_detections: int = Field(100, ge=1, le=1000, description="Boxes kept per frame at most.")
    classes: tuple[int, ...] | None = Field(None, description="Class ids kept (None: all).")
    providers: tuple[str, ...] = Field(
        ("CUDAExecutionProvider", "CPUExecutionProvider"),
        description="ONNX Runtime providers in preference order; unavailable ones are skipped.",
    )
    threads: int = Field(0, ge=0, le=256, description="Intra-op threads (0: library default).")
    device: str | None = Field(None, description="ultralytics device, e.g. 'cpu' or '0'.")
    batch_max: int = Field(
        1, ge=1, le=256,
        description="Frames of the node's cameras run in one inference call at most (1: no batching; "
        "on a GPU, about the number of cameras).",
    )
    batch_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="How long a frame may wait for others to fill its batch."
    )


class TrackerSettings(_Strict):
    """ByteTrack (Roboflow ``trackers``), with buffers in seconds."""

    lost_buffer_s: float = Field(
        1.0, gt=0, le=60, description="A lost track is kept this long before it ends."
    )
    activation_threshold: float = Field(0.4, ge=0, le=1, description="Confidence needed to start a track.")
    high_conf_threshold: float = Field(0.5, ge=0, le=1, description="First-stage association threshold.")
    match_iou: float = Field(0.1, gt=0, le=1, description="Minimum IoU to associate a box with a track.")
    min_consecutive_frames: int = Field(2, ge=1, le=30, description="Frames before a track is confirmed.")


class CropSettings(_Strict):
    """Which plate crops leave the edge, and how they are encoded."""

    jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality of published crops.")
    per_slice: int = Field(2, ge=1, le=20, description="Best crops published per track per time slice.")
    slice_s: float = Field(1.0, gt=0, le=60, description="Length of a time slice.")
    padding: float = Field(
        0.15, ge=0, le=1, description="Padding around the plate box, fraction of its size."
    )
    min_width: int = Field(
        16, ge=1, le=4096, description="Plates narrower than this (pixels) are not cropped."
    )


class SpoolSettings(_Strict):
    """Local disk queue that holds messages while the broker is unreachable."""

    dir: Path = Field(Path(".alpr-run/edge-spool"), description="Directory of the spool segments.")
    max_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Spool size limit; newer messages are dropped."
    )
    segment_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Size of one spool segment file.")


class PublishSettings(_Strict):
    """Kafka producer of the edge (broker and topics come from the ``kafka`` section)."""

    message_timeout_s: float = Field(
        10.0, gt=0, le=600, description="A message not acked in this time is retried from the spool."
    )
    linger_ms: int = Field(20, ge=0, le=5000, description="Producer batching delay.")
    max_in_flight: int = Field(1000, ge=1, le=100_000, description="Messages sent and not yet acknowledged.")
    retry_max_s: float = Field(
        10.0, gt=0, le=300, description="Longest wait between resends after a failure."
    )
    flush_timeout_s: float = Field(15.0, ge=0, le=600, description="Time given to deliver the spool on exit.")
    registry_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Wait this long for the schema registry."
    )


class EdgeSettings(_Strict):
    """The edge node."""

    cameras: tuple[CameraSettings, ...] = Field((), description="Cameras read by this node.")
    detector: DetectorSettings = Field(default_factory=DetectorSettings, description="Plate detector.")
    vehicle_detector: DetectorSettings | None = Field(
        None,
        description="Optional vehicle detector (user-supplied weights); plates attach to vehicle tracks.",
    )
    vehicle_classes: tuple[int, ...] = Field((2, 3, 5, 7), description="COCO ids counted as vehicles.")
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    crops: CropSettings = Field(default_factory=CropSettings)
    spool: SpoolSettings = Field(default_factory=SpoolSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    status_interval_s: float = Field(
        2.0, gt=0, le=3600, description="Period of the live per-camera status line (on a terminal)."
    )
    status_log_s: float = Field(
        60.0, ge=0, le=86400, description="Period of the status log record when stderr is not a terminal; 0 = never."
    )

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, value: tuple[CameraSettings, ...]) -> tuple[CameraSettings, ...]:
        ids = [c.id for c in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera ids must be unique, repeated: {', '.join(dupes)}")
        return value
