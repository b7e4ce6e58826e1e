"""Settings of the edge node (`alpr edge`): cameras, detector, tracker, crops, publishing.

Owned by the edge. Every model forbids unknown keys. Times are in seconds, never frames,
so a camera running at 10 fps behaves like one at 30 fps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_MODELS = Path(__file__).resolve().parents[1] / "models"
#: The plate detector shipped in ``models/`` (see ``models/manifest.json``): float32, for GPUs.
DEFAULT_PLATE_MODEL = _MODELS / "plate_yolov8n_safelicensing.onnx"
#: The same detector quantised to int8 (QDQ), about twice as fast on CPUs.
DEFAULT_PLATE_MODEL_INT8 = _MODELS / "plate_yolov8n_safelicensing_int8.onnx"
#: The vehicle detector shipped in ``models/``: YOLOX-Nano (COCO), fixed 416x416 input.
DEFAULT_VEHICLE_MODEL = _MODELS / "yolox_nano_coco.onnx"
#: COCO class id -> vehicle type; the detector's vehicle classes are one class, the type an attribute.
COCO_VEHICLE_TYPES: dict[int, str] = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    """One camera: a video file, an RTSP URL or a V4L2 device."""

    id: str = Field(
        ..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Camera id (Kafka key)."
    )
    url: str = Field(..., min_length=1, description="File path, rtsp://..., or /dev/videoN.")
    loop: bool = Field(False, description="Files only: start over at the end of the file (else the camera ends).")
    fps_cap: float = Field(
        10.0,
        gt=0,
        le=240,
        description="Frames per second processed at most (10: one event per car at 5-30 fps, see edge/README.md).",
    )
    realtime: bool | None = Field(
        None,
        description=(
            "Live pacing: keep only the newest frame and count drops. Default: true for RTSP/devices, "
            "false for files (every frame under the fps cap is processed, none dropped). A file with "
            "realtime: true plays at its own pace, like a live camera, and still ends (or loops) at its end."
        ),
    )
    no_plate_events: bool = Field(
        False,
        description="Report vehicles that passed without any plate seen (covered, missing, unreadable), "
        "with the best vehicle crop (edge.vehicles.no_plate sets which vehicles count).",
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
    def _polygon(cls, value: tuple[tuple[float, float], ...] | None) -> tuple[tuple[float, float], ...] | None:
        if value is not None and len(value) < 3:
            raise ValueError(f"roi needs at least 3 points, got {len(value)}")
        return value


class DetectorSettings(_Strict):
    """A detector backend, chosen by ``type`` from the registry in ``edge.detect``."""

    type: str = Field(
        "onnx",
        min_length=1,
        description="Backend: onnx (default, ONNX Runtime, YOLOv8-style output), yolox (ONNX Runtime, "
        "YOLOX output: the shipped vehicle model) or ultralytics.",
    )
    model: Path | None = Field(
        None,
        description=(
            "Weights: .onnx (onnx, yolox); .pt/.onnx/.engine (ultralytics). None: the shipped model "
            "(plates: int8 on CPU, float32 when CUDA is used; yolox: models/yolox_nano_coco.onnx)."
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
        1,
        ge=1,
        le=256,
        description="Frames of the node's cameras run in one inference call at most (1: no batching; "
        "on a GPU, about the number of cameras).",
    )
    batch_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="How long a frame may wait for others to fill its batch."
    )
    retry_size: int | None = Field(
        None,
        ge=64,
        le=4096,
        multiple_of=32,
        description="When a frame yields no box, detect again at this larger input size (small, distant "
        "plates); None: off. The second pass costs about (retry_size / input_size)^2 passes and is paid "
        "only on frames where the first found nothing: on video that is most frames, so off by default.",
    )

    @model_validator(mode="after")
    def _retry_is_larger(self) -> DetectorSettings:
        if self.retry_size is not None and self.retry_size <= self.input_size:
            raise ValueError(f"retry_size {self.retry_size} must be larger than input_size {self.input_size}")
        return self


class TrackerSettings(_Strict):
    """Tracking, with buffers in seconds: vehicles by ByteTrack (Roboflow ``trackers``), plates by
    their vehicle, else by motion (``edge/associate.py``)."""

    lost_buffer_s: float = Field(1.0, gt=0, le=60, description="A lost track is kept this long before it ends.")
    activation_threshold: float = Field(0.4, ge=0, le=1, description="Confidence needed to start a track.")
    high_conf_threshold: float = Field(0.5, ge=0, le=1, description="First-stage association threshold.")
    match_iou: float = Field(0.1, gt=0, le=1, description="Minimum IoU to associate a box with a track.")
    min_consecutive_frames: int = Field(2, ge=1, le=30, description="Frames before a track is confirmed.")
    motion_gate: float = Field(
        2.0,
        gt=0,
        le=50,
        description="Plates without a vehicle: a sighting this many plate widths from where "
        "the track's motion predicts it may continue the track ...",
    )
    motion_gate_per_s: float = Field(
        5.0,
        ge=0,
        le=500,
        description="... plus this many plate widths per second since the track was last seen.",
    )


class CropSettings(_Strict):
    """Which plate crops leave the edge, and how they are encoded."""

    jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality of published crops.")
    per_slice: int = Field(2, ge=1, le=20, description="Best crops published per track per time slice.")
    slice_s: float = Field(1.0, gt=0, le=60, description="Length of a time slice.")
    padding: float = Field(0.15, ge=0, le=1, description="Padding around the plate box, fraction of its size.")
    min_width: int = Field(16, ge=1, le=4096, description="Plates narrower than this (pixels) are not cropped.")


def _vehicle_detector() -> DetectorSettings:
    return DetectorSettings(
        type="yolox",
        input_size=416,
        rect=False,
        conf_threshold=0.3,
        iou_threshold=0.45,
        classes=tuple(COCO_VEHICLE_TYPES),
        threads=1,
    )


class PlateLookSettings(_Strict):
    """A second look for plates inside each vehicle where the frame's pass found none (edge/plate_look.py)."""

    enabled: bool = Field(
        True,
        description="Run the plate detector again on the box of each vehicle with no plate box inside, on "
        "frames where the vehicle detector ran: small, distant plates are found at the vehicle's scale.",
    )
    min_width: int = Field(
        128,
        ge=16,
        le=8192,
        description="Vehicles narrower than this (pixels) are not looked in: their plate is too small to read.",
    )
    max_per_frame: int = Field(
        2,
        ge=1,
        le=64,
        description="Vehicles looked in per frame at most, the widest first (each costs one detector pass).",
    )
    margin: float = Field(0.05, ge=0, le=0.5, description="Part of the vehicle box added on each side before the look.")
    backoff_s: float = Field(
        0.5,
        ge=0,
        le=60,
        description="After an empty look a vehicle track is not looked in for this long, doubled after each "
        "further empty look up to 60 s (a parked car with no plate in view costs next to nothing).",
    )


class NoPlateSettings(_Strict):
    """Which vehicle tracks count as "passed without a plate" (cameras with ``no_plate_events``)."""

    min_duration_s: float = Field(0.5, ge=0, le=60, description="Vehicle tracked at least this long.")
    min_width: int = Field(
        200,
        ge=1,
        le=8192,
        description="Vehicle box at least this wide (pixels) at its largest: near enough for its plate to be read.",
    )
    min_travel: float = Field(
        0.25,
        ge=0,
        le=10,
        description="Vehicle moved at least this many box heights (parked cars do not count).",
    )


class VehicleSettings(_Strict):
    """The vehicle stage: detector, rate, type, colour, make/model, no-plate events."""

    enabled: bool = Field(True, description="Detect and track vehicles; plates are tied to their vehicle.")
    detector: DetectorSettings = Field(
        default_factory=_vehicle_detector,
        description="Vehicle detector (default: the shipped YOLOX-Nano COCO model, classes car, motorcycle, "
        "bus, truck as one vehicle class).",
    )
    types: dict[int, str] = Field(
        default_factory=lambda: dict(COCO_VEHICLE_TYPES),
        description="Detector class id -> vehicle type (voted over the track); other classes are ignored.",
    )
    interval_s: float = Field(
        0.25,
        ge=0,
        le=10,
        description="While vehicles or plates are in view, run the vehicle detector at most this often "
        "(0: every frame); the tracker carries vehicle boxes between (at 10 fps: every 3rd frame).",
    )
    idle_interval_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="On an empty scene (no vehicle tracked, no plate seen), run it this often, to find "
        "vehicles without plates.",
    )
    colour: bool = Field(True, description="Estimate the body colour of each vehicle (edge/colour.py).")
    make_model: str | None = Field(
        None,
        description="Make/model classifier by name in edge.classify.CLASSIFIERS (none is shipped).",
    )
    make_model_path: Path | None = Field(None, description="Weights of the make/model classifier.")
    no_plate: NoPlateSettings = Field(default_factory=NoPlateSettings)
    plate_look: PlateLookSettings = Field(default_factory=PlateLookSettings)


class SpoolSettings(_Strict):
    """Local disk queue that holds messages while the broker is unreachable."""

    dir: Path = Field(Path(".alpr-run/edge-spool"), description="Directory of the spool segments.")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024, description="Spool size limit; newer messages are dropped.")
    segment_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Size of one spool segment file.")


class PublishSettings(_Strict):
    """Kafka producer of the edge (broker and topics come from the ``kafka`` section)."""

    message_timeout_s: float = Field(
        10.0, gt=0, le=600, description="A message not acked in this time is retried from the spool."
    )
    linger_ms: int = Field(20, ge=0, le=5000, description="Producer batching delay.")
    max_in_flight: int = Field(1000, ge=1, le=100_000, description="Messages sent and not yet acknowledged.")
    retry_max_s: float = Field(10.0, gt=0, le=300, description="Longest wait between resends after a failure.")
    flush_timeout_s: float = Field(15.0, ge=0, le=600, description="Time given to deliver the spool on exit.")
    registry_timeout_s: float = Field(60.0, gt=0, le=3600, description="Wait this long for the schema registry.")


class EdgeSettings(_Strict):
    """The edge node."""

    cameras: tuple[CameraSettings, ...] = Field((), description="Cameras read by this node.")
    detector: DetectorSettings = Field(default_factory=DetectorSettings, description="Plate detector.")
    vehicles: VehicleSettings = Field(default_factory=VehicleSettings, description="Vehicle stage.")
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
