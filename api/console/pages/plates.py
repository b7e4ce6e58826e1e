"""One plate: every sighting across cameras on a timeline, with crops."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response

from api import watchlists
from api.console.auth import viewer
from api.console.pages.common import Conn, enrich, router
from api.console.render import html
from api.console.sessions import Session
from api.deps import services
from api.search import Cursor, EventQuery, SearchError, run_search

router = router()
PAGE = 100


@router.get("/plates/{plate}")
def plate_page(
    request: Request,
    plate: str,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Sightings of ``plate`` (its reads and corrections to it), newest first, and the lists it is on."""
    svc = services(request)
    try:
        query = EventQuery(plate=plate[:32], limit=PAGE, cursor=Cursor.decode(cursor) if cursor else None)
    except SearchError as exc:
        raise HTTPException(422, str(exc)) from exc
    page = run_search(conn, query, audit_as=session.name, durable_audit=svc.settings.api.durable_audit)
    rows = enrich(conn, page.rows)
    cameras = sorted({r["camera_id"] for r in rows})
    return html(
        request,
        "plate.html",
        session,
        plate=query.normalised,
        rows=rows,
        cameras=cameras,
        listed=watchlists.listings(conn, query.normalised or ""),
        next_cursor=page.next_cursor,
        paged=cursor is not None,
    )
