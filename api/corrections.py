"""Operator corrections of plate reads (``plate_corrections``).

The event keeps its read (``plate_events.plate`` belongs to the flow and may be re-written by
it); each correction is a row naming the plate before and after and who made it. The latest
correction of an event is its plate for people (console, exports); search finds the event
under its read and under every correction (:mod:`api.search`). A new correction is left with
``alerts_done`` unset: the alert path matches the corrected plate against the watchlists and
stores its alerts (once per event and entry, as for any read), then sets it.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

from api import audit
from operators.normalise import compact

COLUMNS = ("id", "event_id", "plate", "previous", "actor", "reason", "at", "alerts_done")


class CorrectionError(ValueError):
    """A correction cannot be made (unknown event, empty or unchanged plate)."""


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction as stored."""

    id: int
    event_id: uuid.UUID
    plate: str
    previous: str
    actor: str
    reason: str
    at: datetime
    alerts_done: datetime | None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for responses."""
        return asdict(self)


def current_plates(conn: psycopg.Connection[Any], event_ids: list[uuid.UUID]) -> dict[uuid.UUID, Correction]:
    """The latest correction of each of these events that has one."""
    if not event_ids:
        return {}
    rows = conn.execute(
        f"SELECT DISTINCT ON (event_id) {', '.join(COLUMNS)} FROM plate_corrections"
        " WHERE event_id = ANY(%s) ORDER BY event_id, at DESC, id DESC",
        (event_ids,),
    ).fetchall()
    return {r[1]: Correction(*r) for r in rows}


def history(conn: psycopg.Connection[Any], event_id: uuid.UUID) -> list[Correction]:
    """Every correction of an event, oldest first."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM plate_corrections WHERE event_id = %s ORDER BY at, id",
        (event_id,),
    ).fetchall()
    return [Correction(*r) for r in rows]


def correct(
    conn: psycopg.Connection[Any], event_id: uuid.UUID, plate: str, *, actor: str, reason: str = ""
) -> Correction:
    """Record that ``event_id`` shows ``plate`` (normalised), audited as ``actor``, in one transaction."""
    normalised = compact(plate)
    if not normalised:
        raise CorrectionError(f"plate {plate!r} has no letters or digits")
    if len(normalised) > 20:
        raise CorrectionError(f"plate {normalised!r} is longer than 20 characters")
    with conn.transaction():
        row = conn.execute(
            "SELECT plate FROM plate_events WHERE event_id = %s ORDER BY updated_at DESC LIMIT 1 FOR SHARE",
            (event_id,),
        ).fetchone()
        if row is None:
            raise CorrectionError(f"no event {event_id}")
        latest = current_plates(conn, [event_id]).get(event_id)
        previous = latest.plate if latest else row[0]
        if previous == normalised:
            raise CorrectionError(f"event {event_id} already reads {normalised}")
        stored = conn.execute(
            "INSERT INTO plate_corrections (event_id, plate, previous, actor, reason)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {', '.join(COLUMNS)}",
            (event_id, normalised, previous, actor, reason),
        ).fetchone()
        assert stored is not None  # RETURNING yields the row
        correction = Correction(*stored)
        audit.record(
            conn,
            actor,
            "event.correct",
            {"event_id": str(event_id), "plate": normalised, "previous": previous, "reason": reason},
        )
    return correction
