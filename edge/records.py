"""Records the edge publishes, converted to the Avro dicts of ``schemas/plate_crop.avsc`` and
``schemas/track_event.avsc`` at the boundary (``to_avro``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# One box record for the whole product: the flow decodes the same Avro ``Box``.
from operators.records import Box

__all__ = ["Box", "PlateCrop", "TrackEvent", "TrackEventKind", "box_from_xyxy"]


def box_from_xyxy(xyxy: tuple[float, float, float, float]) -> Box:
    """Round a float (x1, y1, x2, y2) box to an integer :class:`Box`."""
    x1, y1, x2, y2 = (round(v) for v in xyxy)
    return Box(x1, y1, max(0, x2 - x1), max(0, y2 - y1))


def _millis(ts: float) -> int:
    return int(round(ts * 1000))


@dataclass(frozen=True, slots=True)
class PlateCrop:
    """One published plate crop (``io.alpr.edge.PlateCrop``); times are UTC epoch seconds.

    With ``no_plate`` the record is a vehicle on which no plate was seen: ``image`` is the
    vehicle's best crop, ``bbox`` its box and ``track_id`` its vehicle track (a no-plate event).
    """

    camera_id: str
    site: str
    track_id: str
    frame_index: int
    frame_ts: float
    published_ts: float
    bbox: Box
    frame_width: int
    frame_height: int
    det_confidence: float
    quality: float
    sharpness: float
    image: bytes
    image_format: str = "jpeg"
    vehicle_track_id: str | None = None
    vehicle_bbox: Box | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    vehicle_make: str | None = None
    vehicle_model: str | None = None
    no_plate: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"PlateCrop.quality must be in [0, 1], got {self.quality}")
        if not self.image:
            raise ValueError("PlateCrop.image is empty")

    @property
    def crop_id(self) -> str:
        """Deterministic id ``camera:track:frame_index``."""
        return f"{self.camera_id}:{self.track_id}:{self.frame_index}"

    def to_avro(self) -> dict[str, Any]:
        """The Avro dict of ``plate_crop.avsc`` (timestamps as epoch millis)."""
        return {
            "camera_id": self.camera_id,
            "site": self.site,
            "track_id": self.track_id,
            "crop_id": self.crop_id,
            "frame_index": self.frame_index,
            "frame_ts": _millis(self.frame_ts),
            "published_ts": _millis(self.published_ts),
            "bbox": self.bbox.to_avro(),
            "frame_width": self.frame_width,
            "frame_height": self.frame_height,
            "det_confidence": self.det_confidence,
            "quality": self.quality,
            "sharpness": self.sharpness,
            "image": self.image,
            "image_format": self.image_format,
            "vehicle_track_id": self.vehicle_track_id,
            "vehicle_bbox": self.vehicle_bbox.to_avro() if self.vehicle_bbox else None,
            "vehicle_type": self.vehicle_type,
            "vehicle_colour": self.vehicle_colour,
            "vehicle_make": self.vehicle_make,
            "vehicle_model": self.vehicle_model,
            "no_plate": self.no_plate,
        }


class TrackEventKind(StrEnum):
    """Lifecycle event of a plate track."""

    START = "START"
    END = "END"


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """Start or end of a plate track (``io.alpr.edge.TrackEvent``)."""

    camera_id: str
    site: str
    track_id: str
    kind: TrackEventKind
    ts: float
    bbox: Box | None
    confidence: float
    frames: int
    crops_published: int

    def to_avro(self) -> dict[str, Any]:
        """The Avro dict of ``track_event.avsc``."""
        return {
            "camera_id": self.camera_id,
            "site": self.site,
            "track_id": self.track_id,
            "kind": self.kind.value,
            "ts": _millis(self.ts),
            "bbox": self.bbox.to_avro() if self.bbox else None,
            "confidence": self.confidence,
            "frames": self.frames,
            "crops_published": self.crops_published,
        }
