"""Alert history with delivery status, and redelivery (queries in :mod:`api.alerts`).

Redelivery sets the delivery rows back to ``pending`` with ``attempts = 0``: the flow's
alert dispatcher, which polls pending rows, sends them again at its next poll (no backoff at
zero attempts). The API sends nothing itself.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime

from api import alerts
from api.deps import admin, reader, services
from api.keys import ApiKey
from api.models import Alert, AlertPage
from api.routes.common import Conn, page_limit

router = APIRouter(prefix="/alerts", tags=["alerts"])
alerts_of_events = alerts.alerts_of_events


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
    from operators.normalise import compact

    where = alerts.AlertFilter(watchlist_id, compact(plate) if plate else None, camera_id, status, start, end)
    try:
        items, next_cursor = alerts.find(
            conn, where, limit=page_limit(services(request), limit), cursor=cursor, audit_as=key.name
        )
    except alerts.AlertQueryError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{alert_id}", response_model=Alert, summary="One alert with its deliveries")
def get_alert(alert_id: uuid.UUID, conn: Conn, key: Annotated[ApiKey, Depends(reader)]) -> dict[str, Any]:
    """An alert and the state of its delivery on each channel."""
    found = alerts.get(conn, alert_id)
    if found is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return found


@router.post("/{alert_id}/redeliver", response_model=Alert, summary="Send an alert again")
def redeliver(
    alert_id: uuid.UUID,
    conn: Conn,
    key: Annotated[ApiKey, Depends(admin)],
    channel: Annotated[str | None, Query(max_length=100, description="Only this channel (default: all).")] = None,
) -> dict[str, Any]:
    """Set the alert's deliveries (or one channel's) back to pending; the flow's dispatcher re-sends them."""
    found, changed = alerts.redeliver(conn, alert_id, channel, actor=key.name)
    if found is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if changed == 0:
        raise HTTPException(404, f"alert {alert_id} has no delivery" + (f" on {channel!r}" if channel else ""))
    return found
