"""Builders of the records the sink tests write (events, rejected reads, watchlist hits)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from operators.records import (
    Box,
    PlateCrop,
    PlateEvent,
    PlateRead,
    RejectedRead,
    TrackRead,
    WatchlistEntry,
    WatchlistHit,
)

#: Recent, so rows land in the premade partitions whatever the storage path.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def unique_camera(prefix: str = "cam") -> str:
    """A camera id no other test uses (tests share one database)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def make_event(
    camera_id: str,
    track_id: str = "run-1",
    *,
    plate: str = "ABC123",
    first: float = 0.0,
    last: float | None = None,
    sightings: int = 1,
    provisional: bool = False,
    confidence: float = 0.9,
    crop_key: str | None = None,
    crop_url: str | None = None,
) -> PlateEvent:
    """A plate event seen from ``T0 + first`` to ``T0 + last`` (default ``first + 1``) seconds."""
    last = first + 1.0 if last is None else last
    first_seen = T0 + timedelta(seconds=first)
    return PlateEvent(
        event_id=PlateEvent.make_id(camera_id, track_id, first_seen),
        camera_id=camera_id,
        site="lot-a",
        track_id=track_id,
        plate=plate,
        plate_raw=plate.lower(),
        confidence=confidence,
        region="US-CA",
        first_seen=first_seen,
        last_seen=T0 + timedelta(seconds=last),
        frame_ts=first_seen + timedelta(seconds=(last - first) / 2),
        sightings=sightings,
        crop_key=crop_key,
        crop_url=crop_url,
        provisional=provisional,
    )


def make_track_read(
    camera_id: str,
    track_id: str = "run-1",
    text: str = "ABC123",
    *,
    first: float = 0.0,
    image: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
) -> TrackRead:
    """A voted read of one track, whose best crop is ``image``."""
    ts = T0 + timedelta(seconds=first)
    crop = PlateCrop(
        camera_id=camera_id,
        site="lot-a",
        track_id=track_id,
        crop_id=f"{camera_id}:{track_id}:0",
        frame_index=0,
        frame_ts=ts,
        published_ts=ts,
        bbox=Box(10, 20, 120, 40),
        frame_width=1280,
        frame_height=720,
        det_confidence=0.9,
        quality=0.8,
        sharpness=100.0,
        image=image,
    )
    return TrackRead(
        camera_id=camera_id,
        site="lot-a",
        track_id=track_id,
        text=text,
        confidence=0.4,
        char_confidences=(),
        best_crop=crop,
        n_crops=1,
        n_reads=1,
        first_seen=ts,
        last_seen=ts + timedelta(seconds=1),
    )


def make_plate_read(camera_id: str, track_id: str = "run-1", plate: str = "ABC123", **kw: object) -> PlateRead:
    """A validated read of ``plate``."""
    return PlateRead(
        read=make_track_read(camera_id, track_id, plate, **kw),
        plate=plate,
        plate_raw=plate,
        region="US-CA",
        format_name="us",
    )


def make_rejected(camera_id: str, track_id: str = "run-1", text: str = "A1", reason: str = "too_short") -> RejectedRead:
    """A rejected read."""
    return RejectedRead(read=make_track_read(camera_id, track_id, text), reason=reason, detail="2 characters")


def make_hit(
    event: PlateEvent,
    *,
    entry_id: int = 1,
    watchlist_id: int = 1,
    watchlist: str = "stolen",
    channels: tuple[str, ...] = ("hook",),
    pattern: str | None = None,
) -> WatchlistHit:
    """A hit of ``event`` on an exact entry."""
    entry = WatchlistEntry(
        entry_id=entry_id,
        watchlist_id=watchlist_id,
        watchlist=watchlist,
        pattern=pattern or event.plate,
        match_type="exact",
        severity="high",
        channels=channels,
    )
    return WatchlistHit(event=event, entry=entry, distance=0)
