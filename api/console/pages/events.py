"""One event: crop, read, confidence, region, sightings, corrections, alerts and their deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import audit, corrections, events
from api.console.auth import changer, viewer
from api.console.pages.common import Conn, flash, router
from api.console.render import html
from api.console.sessions import Session

router = router()


@router.get("/events/{event_id}")
def event_page(
    request: Request,
    event_id: uuid.UUID,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Everything about one event (the view is audited, as the API's GET /events/{id})."""
    event = events.find(conn, event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id}")
    audit.record(conn, session.name, "events.get", {"event_id": str(event_id), "plate": event["plate"]})
    event = events.with_alerts(conn, event)
    history = corrections.history(conn, event_id)
    shown = history[-1].plate if history else event["plate"]
    sightings = conn.execute(
        "SELECT events, cameras, first_seen, last_seen FROM plate_sightings WHERE plate = %s", (shown,)
    ).fetchone()
    return html(
        request,
        "event.html",
        session,
        e=event,
        shown=shown,
        history=history,
        sightings=sightings,
        flash=flash(msg),
    )


@router.post("/events/{event_id}/correct")
def correct(
    event_id: uuid.UUID,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    plate: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record a correction of the read (the original stays); the alert path matches the new plate."""
    try:
        corrections.correct(conn, event_id, plate, actor=session.name, reason=reason.strip())
    except corrections.CorrectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return RedirectResponse(f"/console/events/{event_id}?msg=corrected", status_code=303)
