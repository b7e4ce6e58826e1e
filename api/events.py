"""One plate event as people see it: its stored row, its corrections and the alerts it raised."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from api.alerts import alerts_of_events
from api.search import EVENT_COLUMNS


def find(conn: psycopg.Connection[Any], event_id: uuid.UUID) -> dict[str, Any] | None:
    """The latest stored version of an event (:data:`api.search.EVENT_COLUMNS`), or None."""
    row = conn.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM plate_events WHERE event_id = %s ORDER BY updated_at DESC LIMIT 1",
        (event_id,),
    ).fetchone()
    return dict(zip(EVENT_COLUMNS, row, strict=True)) if row else None


def with_alerts(conn: psycopg.Connection[Any], event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its alerts (and their deliveries) under ``alerts``."""
    return {**event, "alerts": alerts_of_events(conn, [event["event_id"]])}
