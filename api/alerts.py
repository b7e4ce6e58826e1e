"""Alert history with delivery state, and redelivery (used by the REST routes and the console).

Redelivery sets delivery rows back to ``pending`` with ``attempts = 0``: the flow's alert
dispatcher, which polls pending rows, sends them again at its next poll (no backoff at zero
attempts). Nothing here sends anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from api import audit

ALERT_COLUMNS = (
    "alert_id", "event_id", "entry_id", "watchlist_id", "watchlist", "plate", "camera_id", "site",
    "observed_at", "severity", "created_at",
)  # fmt: skip
DELIVERY_COLUMNS = ("channel", "status", "attempts", "last_error", "updated_at", "delivered_at")
_SELECT = """
SELECT a.alert_id, a.event_id, a.entry_id, a.watchlist_id, w.name, a.plate, a.camera_id, a.site,
       a.observed_at, a.severity, a.created_at
FROM alerts a LEFT JOIN watchlists w ON w.id = a.watchlist_id
"""


class AlertQueryError(ValueError):
    """Invalid alert search parameters (the API answers 422)."""


def with_deliveries(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Alert rows (in :data:`ALERT_COLUMNS` order) as dicts with a ``deliveries`` list each."""
    alerts = [dict(zip(ALERT_COLUMNS, r, strict=True)) for r in rows]
    if not alerts:
        return []
    by_id: dict[uuid.UUID, list[dict[str, Any]]] = {a["alert_id"]: [] for a in alerts}
    for alert_id, *rest in conn.execute(
        "SELECT alert_id, channel, status, attempts, last_error, updated_at, delivered_at"
        " FROM alert_deliveries WHERE alert_id = ANY(%s) ORDER BY channel",
        (list(by_id),),
    ):
        by_id[alert_id].append(dict(zip(DELIVERY_COLUMNS, rest, strict=True)))
    for a in alerts:
        a["deliveries"] = by_id[a["alert_id"]]
    return alerts


def alerts_of_events(conn: psycopg.Connection[Any], event_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Alerts (with deliveries) of these events, newest first."""
    rows = conn.execute(_SELECT + " WHERE a.event_id = ANY(%s) ORDER BY a.observed_at DESC", (event_ids,)).fetchall()
    return with_deliveries(conn, rows)


def get(conn: psycopg.Connection[Any], alert_id: uuid.UUID) -> dict[str, Any] | None:
    """One alert with its deliveries, or None."""
    rows = conn.execute(_SELECT + " WHERE a.alert_id = %s", (alert_id,)).fetchall()
    return with_deliveries(conn, rows)[0] if rows else None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list (every field optional); ``plate`` is normalised by the caller."""

    watchlist_id: int | None = None
    plate: str | None = None
    camera_id: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def to_audit(self) -> dict[str, Any]:
        """The filter as JSON for the audit trail."""
        return {
            "watchlist_id": self.watchlist_id,
            "plate": self.plate,
            "camera_id": self.camera_id,
            "status": self.status,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }


def encode_cursor(observed_at: datetime, alert_id: uuid.UUID) -> str:
    """Opaque cursor after the alert ``(observed_at, alert_id)``."""
    raw = json.dumps([observed_at.isoformat(), str(alert_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, uuid.UUID]:
    """Parse :func:`encode_cursor`'s output; :class:`AlertQueryError` when it is not one."""
    try:
        when, alert_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(alert_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise AlertQueryError("cursor is not valid") from exc


def find(
    conn: psycopg.Connection[Any],
    where: AlertFilter,
    *,
    limit: int,
    cursor: str | None = None,
    audit_as: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Alerts matching ``where`` newest first (with deliveries), and the next page's cursor.

    With ``audit_as``, an ``alerts.search`` audit row names that actor.
    """
    c_time, c_id = decode_cursor(cursor) if cursor else (None, None)
    params: dict[str, Any] = {
        "wl": where.watchlist_id,
        "plate": where.plate,
        "cam": where.camera_id,
        "status": where.status,
        "start": where.start,
        "end": where.end,
        "limit": limit + 1,
        "c_time": c_time,
        "c_id": c_id,
    }
    if audit_as is not None:
        audit.record(conn, audit_as, "alerts.search", where.to_audit())
    rows = conn.execute(
        _SELECT
        + """
        WHERE (%(wl)s::int IS NULL OR a.watchlist_id = %(wl)s::int)
          AND (%(plate)s::text IS NULL OR a.plate = %(plate)s::text)
          AND (%(cam)s::text IS NULL OR a.camera_id = %(cam)s::text)
          AND (%(status)s::text IS NULL OR EXISTS (SELECT 1 FROM alert_deliveries d
                                              WHERE d.alert_id = a.alert_id AND d.status = %(status)s::text))
          AND (%(start)s::timestamptz IS NULL OR a.observed_at >= %(start)s::timestamptz)
          AND (%(end)s::timestamptz IS NULL OR a.observed_at < %(end)s::timestamptz)
          AND (%(c_time)s::timestamptz IS NULL
               OR (a.observed_at, a.alert_id) < (%(c_time)s::timestamptz, %(c_id)s::uuid))
        ORDER BY a.observed_at DESC, a.alert_id DESC LIMIT %(limit)s""",
        params,
    ).fetchall()
    alerts = with_deliveries(conn, rows[:limit])
    more = len(rows) > limit
    next_cursor = encode_cursor(alerts[-1]["observed_at"], alerts[-1]["alert_id"]) if more and alerts else None
    return alerts, next_cursor


def redeliver(
    conn: psycopg.Connection[Any], alert_id: uuid.UUID, channel: str | None, *, actor: str
) -> tuple[dict[str, Any] | None, int]:
    """Set the alert's deliveries (or one channel's) back to pending, audited as ``actor``.

    Returns the alert (None when unknown) and how many delivery rows were reset.
    """
    with conn.transaction():
        if not conn.execute("SELECT 1 FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone():
            return None, 0
        changed = conn.execute(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, last_error = NULL,"
            " delivered_at = NULL,"
            " updated_at = now() WHERE alert_id = %s AND (%s::text IS NULL OR channel = %s::text)",
            (alert_id, channel, channel),
        ).rowcount
        if changed:
            audit.record(
                conn,
                actor,
                "alerts.redeliver",
                {"alert_id": str(alert_id), "channel": channel, "deliveries": changed},
            )
        return get(conn, alert_id), changed
