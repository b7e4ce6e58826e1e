"""Records the edge publishes, converted to the Avro dicts of ``schemas/plate_crop.avsc`` and
``schemas/track_event.avsc`` at the boundary (``to_avro``).

A crop is the product's one :class:`~operators.records.PlateCrop` record (the flow decodes the
same record, with one Avro mapping); :func:`plate_crop` builds it from the edge's epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

# One box and one crop record for the whole product: the flow decodes the same Avro records.
from operators.records import Box, PlateCrop

__all__ = ["Box", "PlateCrop", "TrackEvent", "TrackEventKind", "box_from_xyxy", "plate_crop", "utc"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def box_from_xyxy(xyxy: tuple[float, float, float, float]) -> Box:
    """Round a float (x1, y1, x2, y2) box to an integer :class:`Box`."""
    x1, y1, x2, y2 = (round(v) for v in xyxy)
    return Box(x1, y1, max(0, x2 - x1), max(0, y2 - y1))


def _millis(ts: float) -> int:
    return int(round(ts * 1000))


def utc(ts: float) -> datetime:
    """UTC epoch seconds as the tz-aware datetime the Avro field keeps (millisecond precision)."""
    return _EPOCH + timedelta(milliseconds=_millis(ts))


def plate_crop(
    *,
    camera_id: str,
    track_id: str,
    frame_index: int,
    frame_ts: float,
    published_ts: float,
    **fields: Any,
) -> PlateCrop:
    """The :class:`~operators.records.PlateCrop` of a crop the edge publishes: times given as UTC
    epoch seconds, ``crop_id`` the deterministic ``camera:track:frame_index``.

    With ``no_plate`` the record is a vehicle on which no plate was seen: ``image`` is the
    vehicle's best crop, ``bbox`` its box and ``track_id`` its vehicle track (a no-plate event).
    """
    return PlateCrop(
        camera_id=camera_id,
        track_id=track_id,
        crop_id=f"{camera_id}:{track_id}:{frame_index}",
        frame_index=frame_index,
        frame_ts=utc(frame_ts),
        published_ts=utc(published_ts),
        **fields,
    )


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
