"""Writes of the flow's outputs: ``plate_events`` (upserted) and ``rejected_reads``.

Every function runs in the caller's transaction (:class:`flows.sinks.postgres.PostgresWriter`
retries and isolates bad rows):

- ``plate_events``: upsert on ``(event_id, first_seen)``. Event ids are deterministic, so a
  replayed event lands on its own row; an update of an event (dedup merge, provisional ->
  final) replaces the stored one only when it is not older (more sightings, final over
  provisional, later ``last_seen``), and an identical replay changes nothing. Events are
  binary-COPied into a temporary staging table and merged with one ``INSERT ... SELECT``.
- ``rejected_reads``: has no natural key in the schema, so a read is inserted only when no
  row with the same camera, frame time, track, raw text and reason exists (under a
  transaction-level advisory lock, so concurrent workers cannot both insert it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from operators.records import PlateEvent, RejectedRead


def event_rank(event: PlateEvent) -> tuple[int, bool, datetime]:
    """Order of versions of one event: more sightings, then final over provisional, then later."""
    return (event.sightings, not event.provisional, event.last_seen)


def latest_events(events: Iterable[PlateEvent]) -> list[PlateEvent]:
    """One version per ``(event_id, first_seen)``: the highest :func:`event_rank`, the later on ties.

    A single ``INSERT ... ON CONFLICT`` may not touch a row twice, and a batch can hold an
    event and its update. Sorted by key, so that concurrent transactions (the events and the
    alerts sinks) lock shared rows in the same order and do not deadlock.
    """
    best: dict[tuple[str, datetime], PlateEvent] = {}
    for event in events:
        key = (event.event_id, event.first_seen)
        kept = best.get(key)
        if kept is None or event_rank(event) >= event_rank(kept):
            best[key] = event
    return [best[key] for key in sorted(best)]


def rejected_row(r: RejectedRead) -> dict[str, Any]:
    """The ``rejected_reads`` row of a rejected read; ``observed_at`` is its best crop's frame time."""
    t = r.read
    return {
        "observed_at": t.best_crop.frame_ts,
        "site": t.site,
        "camera_id": t.camera_id,
        "track_id": t.track_id,
        "plate_raw": r.plate_raw,
        "reason": r.reason,
        "confidence": t.confidence,
        "crop_key": None,
        "event_id": None,
    }


_EVENT_COLUMNS = (
    "event_id",
    "first_seen",
    "last_seen",
    "frame_ts",
    "site",
    "camera_id",
    "track_id",
    "plate",
    "plate_raw",
    "region",
    "confidence",
    "sightings",
    "crop_key",
    "crop_url",
    "provisional",
    "vehicle_type",
    "vehicle_colour",
    "vehicle_make",
    "vehicle_model",
    "vehicle_bbox",
    "no_plate",
)
_EVENT_TYPES = (
    "uuid",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "float4",
    "int4",
    "text",
    "text",
    "bool",
    "text",
    "text",
    "text",
    "text",
    "int4[]",
    "bool",
)
# Columns an update may change (never the identity: id, first seen, camera, track, site).
_EVENT_MUTABLE = (
    "last_seen",
    "frame_ts",
    "plate",
    "plate_raw",
    "region",
    "confidence",
    "sightings",
    "provisional",
    "vehicle_type",
    "vehicle_colour",
    "vehicle_make",
    "vehicle_model",
    "vehicle_bbox",
)


def unnest(columns: Sequence[str], types: Sequence[str]) -> str:
    args = ", ".join(f"%({c})s::{t}[]" for c, t in zip(columns, types, strict=True))
    return f"unnest({args}) AS u({', '.join(columns)})"


# Events go through a per-connection temporary staging table: binary COPY into it, then one
# INSERT ... SELECT ... ON CONFLICT merge. Faster than multi-row VALUES for large batches.
_STAGE_TABLE = "alpr_plate_events_stage"
_STAGE_COLUMNS = ", ".join(f"{c} {t}" for c, t in zip(_EVENT_COLUMNS, _EVENT_TYPES, strict=True))
_CREATE_STAGE = f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} ({_STAGE_COLUMNS}) ON COMMIT DELETE ROWS"
_COPY_STAGE = f"COPY {_STAGE_TABLE} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_UPSERT_EVENTS = f"""
INSERT INTO plate_events AS t ({", ".join(_EVENT_COLUMNS)})
SELECT {", ".join(_EVENT_COLUMNS)} FROM {_STAGE_TABLE}
ON CONFLICT (event_id, first_seen) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _EVENT_MUTABLE)},
    crop_key = COALESCE(EXCLUDED.crop_key, t.crop_key),
    crop_url = COALESCE(EXCLUDED.crop_url, t.crop_url),
    updated_at = now()
WHERE (EXCLUDED.sightings, NOT EXCLUDED.provisional, EXCLUDED.last_seen)
      >= (t.sightings, NOT t.provisional, t.last_seen)
  AND ({", ".join(f"t.{c}" for c in _EVENT_MUTABLE)}, t.crop_key, t.crop_url)
      IS DISTINCT FROM
      ({", ".join(f"EXCLUDED.{c}" for c in _EVENT_MUTABLE)},
       COALESCE(EXCLUDED.crop_key, t.crop_key), COALESCE(EXCLUDED.crop_url, t.crop_url))
"""

_REJECTED_COLUMNS = (
    "observed_at",
    "site",
    "camera_id",
    "track_id",
    "plate_raw",
    "reason",
    "confidence",
    "crop_key",
    "event_id",
)
_REJECTED_TYPES = ("timestamptz", "text", "text", "text", "text", "text", "real", "text", "uuid")
#: Arbitrary constant key of the advisory lock that serialises rejected-read inserts.
_REJECTED_LOCK = 0x616C7072_72656A  # "alpr" "rej"

_INSERT_REJECTED = f"""
INSERT INTO rejected_reads ({", ".join(_REJECTED_COLUMNS)})
SELECT DISTINCT ON (camera_id, observed_at, track_id, plate_raw, reason) {", ".join(_REJECTED_COLUMNS)}
FROM {unnest(_REJECTED_COLUMNS, _REJECTED_TYPES)}
WHERE NOT EXISTS (
    SELECT 1 FROM rejected_reads r
    WHERE r.camera_id = u.camera_id AND r.observed_at = u.observed_at AND r.track_id = u.track_id
      AND r.plate_raw = u.plate_raw AND r.reason = u.reason)
"""


def columns(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    return {c: [row[c] for row in rows] for c in columns}


def _event_row(e: PlateEvent) -> tuple[Any, ...]:
    v = e.vehicle
    return (
        uuid.UUID(e.event_id),
        e.first_seen,
        e.last_seen,
        e.frame_ts,
        e.site,
        e.camera_id,
        e.track_id,
        e.plate,
        e.plate_raw,
        e.region,
        e.confidence,
        e.sightings,
        e.crop_key,
        e.crop_url,
        e.provisional,
        v.type if v else None,
        v.colour if v else None,
        v.make if v else None,
        v.model if v else None,
        [v.bbox.x, v.bbox.y, v.bbox.w, v.bbox.h] if v and v.bbox else None,
        e.no_plate,
    )


def upsert_events(conn: psycopg.Connection[Any], events: Sequence[PlateEvent]) -> int:
    """Upsert plate events in the current transaction; returns the rows inserted or changed."""
    latest = latest_events(events)
    if not latest:
        return 0
    with conn.cursor() as cur:
        cur.execute(_CREATE_STAGE)  # once per connection in effect; a no-op afterwards
        with cur.copy(_COPY_STAGE) as copy:
            copy.set_types(_EVENT_TYPES)
            for event in latest:
                copy.write_row(_event_row(event))
        cur.execute(_UPSERT_EVENTS)
        changed = cur.rowcount
        cur.execute(f"DELETE FROM {_STAGE_TABLE}")  # the caller's transaction may go on
    return changed


def insert_rejected(conn: psycopg.Connection[Any], reads: Sequence[RejectedRead]) -> int:
    """Insert rejected reads not stored yet, in the current transaction; returns rows inserted."""
    rows = [rejected_row(r) for r in reads]
    if not rows:
        return 0
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REJECTED_LOCK,))
    cur = conn.execute(_INSERT_REJECTED, columns(rows, _REJECTED_COLUMNS))
    return cur.rowcount
