"""The alert outbox tables: ``alerts`` and one ``alert_deliveries`` row per alert and channel.

:func:`insert_alerts` stores watchlist hits (the flow's alert sink, operator corrections):
insert-or-ignore on ``alert_id`` and ``(alert_id, channel)``; the alert's event is upserted
first in the same transaction, so the delivery worker always finds it (with its crop URL).
The delivery worker's queries (:mod:`alerts.outbox`) are the rest of this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from db.events import columns, unnest, upsert_events
from operators.records import WatchlistHit


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A watchlist hit to store, with its delivery rows.

    ``channels`` are configured channels (rows start ``pending``); ``unknown_channels`` are
    named by the watchlist but not configured (rows are stored ``failed`` with the reason).
    """

    hit: WatchlistHit
    channels: tuple[str, ...]
    unknown_channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery row this write created (not one that existed already)."""

    alert_id: str
    channel: str
    status: str
    last_error: str | None


_ALERT_COLUMNS = (
    "alert_id",
    "event_id",
    "entry_id",
    "watchlist_id",
    "plate",
    "camera_id",
    "site",
    "observed_at",
    "severity",
)
_ALERT_TYPES = ("uuid", "uuid", "bigint", "int", "text", "text", "text", "timestamptz", "text")
_INSERT_ALERTS = f"""
INSERT INTO alerts ({", ".join(_ALERT_COLUMNS)})
SELECT {", ".join(_ALERT_COLUMNS)} FROM {unnest(_ALERT_COLUMNS, _ALERT_TYPES)}
ON CONFLICT (alert_id) DO NOTHING
"""
_DELIVERY_COLUMNS = ("alert_id", "channel", "status", "last_error")
_DELIVERY_TYPES = ("uuid", "text", "text", "text")
_INSERT_DELIVERIES = f"""
INSERT INTO alert_deliveries ({", ".join(_DELIVERY_COLUMNS)})
SELECT {", ".join(_DELIVERY_COLUMNS)} FROM {unnest(_DELIVERY_COLUMNS, _DELIVERY_TYPES)}
ON CONFLICT (alert_id, channel) DO NOTHING
RETURNING alert_id::text, channel, status, last_error
"""


def insert_alerts(
    conn: psycopg.Connection[Any], records: Sequence[AlertRecord], *, store_events: bool = True
) -> list[NewDelivery]:
    """Store alerts (their events upserted first) and delivery rows; returns the new delivery rows.

    ``store_events=False`` leaves the events as stored (alerts of operator corrections).
    """
    if not records:
        return []
    if store_events:
        upsert_events(conn, [r.hit.event for r in records])
    alerts: dict[str, dict[str, Any]] = {}
    deliveries: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        hit = rec.hit
        alerts[hit.alert_id] = {
            "alert_id": hit.alert_id,
            "event_id": hit.event.event_id,
            "entry_id": hit.entry.entry_id,
            "watchlist_id": hit.entry.watchlist_id,
            "plate": hit.event.plate,
            "camera_id": hit.event.camera_id,
            "site": hit.event.site,
            "observed_at": hit.event.frame_ts,
            "severity": hit.severity,
        }
        for channel in rec.channels:
            deliveries[(hit.alert_id, channel)] = {
                "alert_id": hit.alert_id,
                "channel": channel,
                "status": "pending",
                "last_error": None,
            }
        for channel in rec.unknown_channels:
            deliveries[(hit.alert_id, channel)] = {
                "alert_id": hit.alert_id,
                "channel": channel,
                "status": "failed",
                "last_error": f"channel {channel!r} is not configured (flow.alerts.channels)",
            }
    conn.execute(_INSERT_ALERTS, columns(list(alerts.values()), _ALERT_COLUMNS))
    if not deliveries:
        return []
    cur = conn.execute(_INSERT_DELIVERIES, columns(list(deliveries.values()), _DELIVERY_COLUMNS))
    return [NewDelivery(*row) for row in cur.fetchall()]


# --- the delivery worker's queries (alerts.outbox) -------------------------------------------

# Only the channels this process is configured for: rows naming another channel were stored
# failed already, or belong to a differently configured deployment sharing the database.
_DUE_SQL = """
SELECT alert_id::text, channel, attempts, extract(epoch FROM now() - updated_at)::float8
FROM alert_deliveries
WHERE status = 'pending' AND channel = ANY(%s)
ORDER BY updated_at
LIMIT %s
"""

_CLAIM_SQL = """
SELECT d.status, d.attempts,
       extract(epoch FROM now() - d.updated_at)::float8,
       extract(epoch FROM now() - a.created_at)::float8,
       a.alert_id::text, a.event_id::text, a.entry_id, a.watchlist_id, w.name, e.pattern, e.match_type,
       e.note, a.plate, a.camera_id, a.site, a.observed_at, a.severity,
       (SELECT pe.crop_url FROM plate_events pe
         WHERE pe.event_id = a.event_id AND pe.crop_url IS NOT NULL
         ORDER BY pe.updated_at DESC LIMIT 1),
       (SELECT pe.crop_key FROM plate_events pe
         WHERE pe.event_id = a.event_id AND pe.crop_key IS NOT NULL
         ORDER BY pe.updated_at DESC LIMIT 1)
FROM alert_deliveries d
JOIN alerts a ON a.alert_id = d.alert_id
LEFT JOIN watchlists w ON w.id = a.watchlist_id
LEFT JOIN watchlist_entries e ON e.id = a.entry_id
WHERE d.alert_id = %s AND d.channel = %s
FOR UPDATE OF d SKIP LOCKED
"""

_DELIVERED_SQL = """
UPDATE alert_deliveries
SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = now(), delivered_at = now()
WHERE alert_id = %s AND channel = %s
"""

_RETRY_SQL = """
UPDATE alert_deliveries SET attempts = attempts + 1, last_error = %s, updated_at = now()
WHERE alert_id = %s AND channel = %s
"""

_FAILED_SQL = """
UPDATE alert_deliveries SET status = 'failed', attempts = attempts + 1, last_error = %s, updated_at = now()
WHERE alert_id = %s AND channel = %s
"""


def due_deliveries(conn: psycopg.Connection[Any], channels: list[str], limit: int) -> list[tuple[str, str, int, float]]:
    """Pending rows of ``channels``, oldest attempt first: ``(alert_id, channel, attempts, seconds since
    the last attempt)`` (database time)."""
    return conn.execute(_DUE_SQL, (channels, limit)).fetchall()


def claim_delivery(conn: psycopg.Connection[Any], alert_id: str, channel: str) -> tuple[Any, ...] | None:
    """Lock one delivery row (``SKIP LOCKED``: None when another sender holds it, or it is gone):
    ``(status, attempts, seconds since the last attempt, alert age in seconds, *StoredAlert fields,
    crop_key)``."""
    return conn.execute(_CLAIM_SQL, (alert_id, channel)).fetchone()


def mark_delivered(conn: psycopg.Connection[Any], alert_id: str, channel: str) -> None:
    """The delivery succeeded."""
    conn.execute(_DELIVERED_SQL, (alert_id, channel))


def mark_retry(conn: psycopg.Connection[Any], alert_id: str, channel: str, error: str | None) -> None:
    """One more failed attempt; the row stays pending."""
    conn.execute(_RETRY_SQL, (error, alert_id, channel))


def mark_failed(conn: psycopg.Connection[Any], alert_id: str, channel: str, error: str | None) -> None:
    """The delivery gave up."""
    conn.execute(_FAILED_SQL, (error, alert_id, channel))


def count_pending(conn: psycopg.Connection[Any], channels: list[str]) -> int:
    """Pending deliveries on ``channels``."""
    row = conn.execute(
        "SELECT count(*) FROM alert_deliveries WHERE status = 'pending' AND channel = ANY(%s)", (channels,)
    ).fetchone()
    return int(row[0]) if row is not None else 0
