"""Request and response bodies of the API (they make the OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from operators.text import check_text


def _printable(multiline: bool = False) -> AfterValidator:
    """The API's edge check of a body string (:func:`operators.text.check_text`: no control or
    invisible characters); the length bound is the field's ``max_length``."""
    return AfterValidator(lambda v: check_text(v, "value", len(v), multiline=multiline))


Name = Annotated[str, _printable()]
Text = Annotated[str, _printable(multiline=True)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Event(BaseModel):
    """A plate event (one tracked vehicle's plate)."""

    event_id: uuid.UUID
    first_seen: datetime
    last_seen: datetime
    frame_ts: datetime
    site: str
    camera_id: str
    track_id: str
    plate: str
    plate_raw: str
    region: str | None
    confidence: float
    sightings: int
    crop_key: str | None
    provisional: bool
    vehicle_type: str | None = Field(None, description="Vehicle type (car, truck, bus, motorcycle), when tracked.")
    vehicle_colour: str | None = Field(None, description="Vehicle body colour, when tracked.")
    vehicle_make: str | None = Field(None, description="Vehicle make (only with a plugged-in classifier).")
    vehicle_model: str | None = Field(None, description="Vehicle model (only with a plugged-in classifier).")
    vehicle_bbox: list[int] | None = Field(
        None, description="Vehicle box [x, y, w, h], pixels of the best crop's frame."
    )
    no_plate: bool = Field(False, description="A vehicle that passed with no plate seen (plate is empty).")
    distance: float | None = Field(None, description="Edit distance to the searched plate (fuzzy, confusion).")


class EventPage(BaseModel):
    """A page of search results; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[Event]
    next_cursor: str | None


class Delivery(BaseModel):
    """Delivery state of an alert on one channel."""

    channel: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    updated_at: datetime
    delivered_at: datetime | None


class Alert(BaseModel):
    """A watchlist hit and its deliveries."""

    alert_id: uuid.UUID
    event_id: uuid.UUID
    entry_id: int
    watchlist_id: int
    watchlist: str | None
    plate: str
    camera_id: str
    site: str
    observed_at: datetime
    severity: str
    created_at: datetime
    deliveries: list[Delivery]


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[Alert]
    next_cursor: str | None


class EventDetail(Event):
    """An event with a presigned URL of its crop and its alerts."""

    crop_url: str | None = Field(None, description="Presigned GET URL of the crop, valid s3.presign_seconds.")
    crop_url_expires_s: int | None = None
    alerts: list[Alert] = []


class CameraStats(BaseModel):
    """Counts of one camera in a time range."""

    camera_id: str
    site: str
    events: int
    sightings: int
    avg_confidence: float | None
    first_seen: datetime | None
    last_seen: datetime | None


class CountBucket(BaseModel):
    """Events of one camera in one hour or day (UTC)."""

    bucket: datetime
    site: str
    camera_id: str
    events: int
    sightings: int


class Watchlist(BaseModel):
    """A watchlist."""

    id: int
    name: str
    description: str
    severity: str
    channels: list[str]
    created_at: datetime
    entries: int


class WatchlistIn(_Body):
    """A new watchlist."""

    name: Name = Field(min_length=1, max_length=200)
    description: Text = Field("", max_length=2000)
    severity: Name = Field("medium", min_length=1, max_length=50)
    channels: list[Annotated[Name, Field(max_length=200)]] = Field([], max_length=20)


class WatchlistPatch(_Body):
    """Changes to a watchlist; absent fields stay."""

    name: Name | None = Field(None, min_length=1, max_length=200)
    description: Text | None = Field(None, max_length=2000)
    severity: Name | None = Field(None, min_length=1, max_length=50)
    channels: list[Annotated[Name, Field(max_length=200)]] | None = Field(None, max_length=20)


class Entry(BaseModel):
    """A watchlist entry."""

    id: int
    pattern: str
    match_type: Literal["exact", "regex", "fuzzy"]
    max_distance: int
    severity: str | None
    note: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WatchlistDetail(Watchlist):
    """A watchlist with its entries."""

    entry_list: list[Entry]


class EntryIn(_Body):
    """A new watchlist entry; exact and fuzzy patterns are normalised like plates."""

    pattern: Name = Field(min_length=1, max_length=200)
    match_type: Literal["exact", "regex", "fuzzy"] = "exact"
    max_distance: int = Field(1, ge=0, le=3)
    severity: Name | None = Field(None, max_length=50)
    note: Text | None = Field(None, max_length=2000)
    expires_at: AwareDatetime | None = None


class ImportResult(BaseModel):
    """Outcome of a CSV import."""

    imported: int
    replaced: bool


class LineErrorOut(BaseModel):
    """A problem on one line of an imported CSV."""

    line: int
    message: str


class EraseIn(_Body):
    """A plate to erase everywhere."""

    plate: Name = Field(min_length=1, max_length=50)
    reason: Text = Field("", max_length=2000)


class Erasure(BaseModel):
    """What an erasure removed (the plate only as a digest)."""

    plate_digest: str
    events: int
    rejected_reads: int
    alerts: int
    objects: int
    audit_redacted: int


class AuditRow(BaseModel):
    """One audit trail row."""

    id: int
    at: datetime
    actor: str
    action: str
    details: dict


class Readiness(BaseModel):
    """Per dependency: "ok" or the error."""

    ready: bool
    checks: dict[str, str]
