"""Settings of the edge node (`alpr edge`): cameras, detector, tracker, crops, publishing.

Owned by the edge; extended as the edge grows. Every model forbids unknown keys.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    """One camera: a video file, an RTSP URL or a V4L2 device."""

    id: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Camera id (Kafka key).")
    url: str = Field(..., min_length=1, description="File path, rtsp://..., or /dev/videoN.")
    loop: bool = Field(False, description="Loop a video file forever.")
    fps_cap: float = Field(15.0, gt=0, le=240, description="Frames per second processed at most.")


class EdgeSettings(_Strict):
    """The edge node."""

    cameras: tuple[CameraSettings, ...] = Field((), description="Cameras read by this node.")
