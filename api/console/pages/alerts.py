"""Alert history with delivery per channel; redelivery (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import alerts, watchlists
from api.console.auth import changer, viewer
from api.console.pages.common import Conn, flash, router
from api.console.render import html
from api.console.sessions import Session
from operators.normalise import compact

router = router()
PAGE = 50


@router.get("/alerts")
def alerts_page(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    status: Annotated[Literal["pending", "delivered", "failed", ""], Query()] = "",
    watchlist_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    plate: Annotated[str | None, Query(max_length=32)] = None,
    camera: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Alerts newest first, filtered by delivery state, list, plate, camera (audited as a search)."""
    where = alerts.AlertFilter(
        watchlist_id=watchlist_id,
        plate=compact(plate) if plate else None,
        camera_id=camera or None,
        status=status or None,
    )
    try:
        items, next_cursor = alerts.find(conn, where, limit=PAGE, cursor=cursor, audit_as=session.name)
    except alerts.AlertQueryError as exc:
        raise HTTPException(422, str(exc)) from exc
    params = {"status": status, "watchlist_id": watchlist_id, "plate": plate, "camera": camera}
    return html(
        request,
        "alerts.html",
        session,
        items=items,
        next_cursor=next_cursor,
        params=params,
        lists=watchlists.list_all(conn),
        paged=cursor is not None,
        flash=flash(msg),
    )


@router.post("/alerts/{alert_id}/redeliver")
def redeliver(
    alert_id: uuid.UUID,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    channel: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=40)] = "alerts",
) -> Response:
    """Queue the alert's deliveries (or one channel's) again; the flow's dispatcher sends them."""
    found, changed = alerts.redeliver(conn, alert_id, channel or None, actor=session.name)
    if found is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if changed == 0:
        raise HTTPException(404, f"alert {alert_id} has no delivery" + (f" on {channel!r}" if channel else ""))
    target = f"/console/events/{found['event_id']}" if back == "event" else "/console/alerts"
    return RedirectResponse(f"{target}?msg=redelivered", status_code=303)
