"""Watchlist alerts for operator corrections of reads (``plate_corrections``, migration 0007).

An operator who corrects a read in the console (``api.corrections``) leaves the correction with
``alerts_done`` unset. The alert dispatcher (:class:`alerts.outbox.AlertDispatcher`) calls
:func:`raise_correction_alerts` at every poll: it claims the open corrections (``FOR UPDATE SKIP
LOCKED``: two processes never take the same one), matches each corrected plate against the
current watchlist entries, stores the hits as alerts with their delivery rows, and marks the
corrections done, all in one transaction. The alert id is the flow's (uuid5 of event and entry),
so an entry that the original read already hit raises nothing new, and a correction raises each
alert once however often it is retried or corrected back and forth. The event row itself is not
touched: it keeps the flow's read.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg

from alerts.routing import resolve_channels
from config.flow import AlertSettings
from db.alerts import AlertRecord, NewDelivery, insert_alerts
from db.watchlists import read_entries
from operators.records import PlateEvent, WatchlistHit
from operators.watchlist import Watchlist

log = logging.getLogger(__name__)
BATCH = 100

_OPEN = """
SELECT c.id, c.plate, e.event_id::text, e.camera_id, e.site, e.track_id, e.plate_raw, e.confidence,
       e.region, e.first_seen, e.last_seen, e.frame_ts, e.sightings, e.crop_key, e.crop_url, e.provisional
FROM plate_corrections c
LEFT JOIN LATERAL (
    SELECT * FROM plate_events pe WHERE pe.event_id = c.event_id ORDER BY pe.updated_at DESC LIMIT 1) e ON true
WHERE c.alerts_done IS NULL
ORDER BY c.id
LIMIT %s
FOR UPDATE OF c SKIP LOCKED
"""


def corrected_event(row: tuple[Any, ...]) -> PlateEvent | None:
    """The stored event as its correction reads it (None when the event is gone: retention, erasure)."""
    (_id, plate, event_id, camera, site, track, raw, conf, region, first, last, frame, n, key, url, prov) = row
    if event_id is None:
        return None
    return PlateEvent(
        event_id=event_id, camera_id=camera, site=site, track_id=track, plate=plate, plate_raw=raw,
        confidence=float(conf), region=region, first_seen=first, last_seen=last, frame_ts=frame,
        sightings=n, crop_key=key, crop_url=url, provisional=prov,
    )  # fmt: skip


def raise_correction_alerts(
    conn: psycopg.Connection[Any], settings: AlertSettings, now: datetime, *, confusion_cost: float = 0.5
) -> list[NewDelivery]:
    """Alerts of the open corrections (see the module doc); returns the delivery rows created."""
    with conn.transaction():
        rows = conn.execute(_OPEN, (BATCH,)).fetchall()
        if not rows:
            return []
        entries, _skipped = read_entries(conn)
        index = Watchlist(entries, confusion_cost=confusion_cost)
        records: list[AlertRecord] = []
        for row in rows:
            event = corrected_event(row)
            if event is None:
                continue
            for entry, distance in index.match(event.plate, now):
                records.append(resolve_channels(settings, WatchlistHit(event, entry, distance)))
        created = insert_alerts(conn, records, store_events=False) if records else []
        conn.execute("UPDATE plate_corrections SET alerts_done = now() WHERE id = ANY(%s)", ([r[0] for r in rows],))
    if records:
        log.info("corrections: %d correction(s) matched %d watchlist entr(ies)", len(rows), len(records))
    return created
