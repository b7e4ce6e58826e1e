"""Builders of operator records shared by the operator tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from operators.records import Box, OcrRead, PlateCrop, TrackRead

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

WHITE, YELLOW, BLUE, BLACK = (235, 235, 235), (30, 200, 240), (150, 60, 0), (20, 20, 20)  # BGR


def drawn_plate(background=WHITE, band=BLUE, *, text=BLACK, width=260, height=56, pad=0.15, around=(70, 70, 70)):
    """A drawn BGR plate (``band`` None: without one) with characters, padded by ``around``."""
    px, py = int(width * pad), int(height * pad)
    image = np.full((height + 2 * py, width + 2 * px, 3), around, np.uint8)
    cv2.rectangle(image, (px, py), (px + width - 1, py + height - 1), background, -1)
    start = px + 8
    if band is not None:
        cv2.rectangle(image, (px, py), (px + int(width * 0.08), py + height - 1), band, -1)
        cv2.putText(image, "E", (px + 4, py + height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        start = px + int(width * 0.08) + 12
    cv2.putText(image, "1234 BCD", (start, py + height - 14), cv2.FONT_HERSHEY_SIMPLEX, 1.1, text, 3)
    return image


def make_crop(
    n: int = 0,
    *,
    quality: float = 0.5,
    t: float | None = None,
    camera_id: str = "cam-1",
    track_id: str = "run-1",
    site: str = "lot-a",
) -> PlateCrop:
    """Crop ``n`` of a track, at ``T0 + t`` seconds (default: n * 0.1 s)."""
    ts = T0 + timedelta(seconds=n * 0.1 if t is None else t)
    return PlateCrop(
        camera_id=camera_id,
        site=site,
        track_id=track_id,
        crop_id=f"{camera_id}:{track_id}:{n}",
        frame_index=n,
        frame_ts=ts,
        published_ts=ts + timedelta(milliseconds=5),
        bbox=Box(100 + n, 200, 120, 40),
        frame_width=1280,
        frame_height=720,
        det_confidence=0.9,
        quality=quality,
        sharpness=120.0,
        image=b"\xff\xd8jpeg" + bytes([n % 256]),
    )


def make_read(crop: PlateCrop, text: str, confidence: float = 0.9, chars: tuple[float, ...] = ()) -> OcrRead:
    """An OCR read of ``crop``."""
    return OcrRead(crop_id=crop.crop_id, text=text, confidence=confidence, char_confidences=chars)


def make_track_read(
    text: str = "ABC123",
    *,
    confidence: float = 0.9,
    first: float = 0.0,
    last: float = 1.0,
    camera_id: str = "cam-1",
    track_id: str = "run-1",
    site: str = "lot-a",
) -> TrackRead:
    """A voted track read seen from ``T0 + first`` to ``T0 + last`` seconds."""
    crop = make_crop(0, t=first, camera_id=camera_id, track_id=track_id, site=site)
    return TrackRead(
        camera_id=camera_id,
        site=site,
        track_id=track_id,
        text=text,
        confidence=confidence,
        char_confidences=(),
        best_crop=crop,
        n_crops=1,
        n_reads=1,
        first_seen=T0 + timedelta(seconds=first),
        last_seen=T0 + timedelta(seconds=last),
    )
