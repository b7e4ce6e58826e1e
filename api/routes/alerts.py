"""Alert history with delivery status, and redelivery.

Redelivery sets the delivery rows back to ``pending`` with ``attempts = 0``: the flow's
alert dispatcher (``flows.sinks.alerts.AlertDispatcher``), which polls pending rows, sends
them again at its next poll (no backoff at zero attempts). The API sends nothing itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime

from api import audit
from api.deps import admin, connection, reader, services
from api.keys import ApiKey
from api.models import Alert, AlertPage, Delivery

router = APIRouter(prefix="/alerts", tags=["alerts"])
Conn = Annotated[psycopg.Connection[Any], Depends(connection)]

_ALERT_COLUMNS = (
    "alert_id", "event_id", "entry_id", "watchlist_id", "watchlist", "plate", "camera_id", "site",
    "observed_at", "severity", "created_at",
)  # fmt: skip
_SELECT = """
SELECT a.alert_id, a.event_id, a.entry_id, a.watchlist_id, w.name, a.plate, a.camera_id, a.site,
       a.observed_at, a.severity, a.created_at
FROM alerts a LEFT JOIN watchlists w ON w.id = a.watchlist_id
"""


def _with_deliveries(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    alerts = [dict(zip(_ALERT_COLUMNS, r, strict=True)) for r in rows]
    if not alerts:
        return []
    by_id: dict[uuid.UUID, list[dict[str, Any]]] = {a["alert_id"]: [] for a in alerts}
    for alert_id, *rest in conn.execute(
        "SELECT alert_id, channel, status, attempts, last_error, updated_at, delivered_at"
        " FROM alert_deliveries WHERE alert_id = ANY(%s) ORDER BY channel",
        (list(by_id),),
    ):
        by_id[alert_id].append(dict(zip(Delivery.model_fields, rest, strict=True)))
    for a in alerts:
        a["deliveries"] = by_id[a["alert_id"]]
    return alerts


def alerts_of_events(conn: psycopg.Connection[Any], event_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Alerts (with deliveries) of these events, newest first."""
    rows = conn.execute(
        _SELECT + " WHERE a.event_id = ANY(%s) ORDER BY a.observed_at DESC", (event_ids,)
    ).fetchall()
    return _with_deliveries(conn, rows)


def _cursor(text: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, alert_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(alert_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise HTTPException(422, "cursor is not valid") from exc


@router.get("", response_model=AlertPage, summary="Alert history, newest first")
def list_alerts(
    request: Request,
    conn: Conn,
    key: Annotated[ApiKey, Depends(reader)],
    watchlist_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    plate: Annotated[str | None, Query(max_length=32)] = None,
    camera_id: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None,
        Query(description="Alerts with a delivery in this state."),
    ] = None,
    start: Annotated[AwareDatetime | None, Query()] = None,
    end: Annotated[AwareDatetime | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> dict[str, Any]:
    """Alerts filtered by watchlist, plate, camera, delivery status and time, with their deliveries."""
    from api.routes.events import page_limit
    from operators.normalise import compact

    n = page_limit(services(request), limit)
    params: dict[str, Any] = {
        "wl": watchlist_id,
        "plate": compact(plate) if plate else None,
        "cam": camera_id,
        "status": status,
        "start": start,
        "end": end,
        "limit": n + 1,
        "c_time": None,
        "c_id": None,
    }
    if cursor:
        params["c_time"], params["c_id"] = _cursor(cursor)
    audit.record(
        conn,
        key.name,
        "alerts.search",
        {
            "watchlist_id": watchlist_id,
            "plate": params["plate"],
            "camera_id": camera_id,
            "status": status,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        },
    )
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
    more = len(rows) > n
    alerts = _with_deliveries(conn, rows[:n])
    next_cursor = None
    if more and alerts:
        last = alerts[-1]
        raw = json.dumps([last["observed_at"].isoformat(), str(last["alert_id"])]).encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"items": alerts, "next_cursor": next_cursor}


@router.get("/{alert_id}", response_model=Alert, summary="One alert with its deliveries")
def get_alert(alert_id: uuid.UUID, conn: Conn, key: Annotated[ApiKey, Depends(reader)]) -> dict[str, Any]:
    """An alert and the state of its delivery on each channel."""
    rows = conn.execute(_SELECT + " WHERE a.alert_id = %s", (alert_id,)).fetchall()
    if not rows:
        raise HTTPException(404, f"no alert {alert_id}")
    return _with_deliveries(conn, rows)[0]


@router.post("/{alert_id}/redeliver", response_model=Alert, summary="Send an alert again")
def redeliver(
    alert_id: uuid.UUID,
    conn: Conn,
    key: Annotated[ApiKey, Depends(admin)],
    channel: Annotated[
        str | None, Query(max_length=100, description="Only this channel (default: all).")
    ] = None,
) -> dict[str, Any]:
    """Set the alert's deliveries (or one channel's) back to pending; the flow's dispatcher re-sends them."""
    with conn.transaction():
        rows = conn.execute(_SELECT + " WHERE a.alert_id = %s", (alert_id,)).fetchall()
        if not rows:
            raise HTTPException(404, f"no alert {alert_id}")
        changed = conn.execute(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, last_error = NULL,"
            " delivered_at = NULL,"
            " updated_at = now() WHERE alert_id = %s AND (%s::text IS NULL OR channel = %s::text)",
            (alert_id, channel, channel),
        ).rowcount
        if changed == 0:
            raise HTTPException(
                404, f"alert {alert_id} has no delivery" + (f" on {channel!r}" if channel else "")
            )
        audit.record(
            conn,
            key.name,
            "alerts.redeliver",
            {"alert_id": str(alert_id), "channel": channel, "deliveries": changed},
        )
    return _with_deliveries(conn, rows)[0]
