"""The live page and its event stream (server-sent events, see :mod:`api.console.feed`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api import stats
from api.console.auth import current, viewer
from api.console.feed import LAG_S, LiveEvent, LiveFeed, changed_since, latest, parse_cursor
from api.console.pages.common import Conn, router
from api.console.render import fragment, html
from api.console.sessions import Session
from api.deps import services

router = router()
KEEPALIVE_S = 15.0
RECHECK_SESSION_S = 60.0


def message(event: LiveEvent) -> str:
    """One SSE message: ``event: plate``, the version as ``id:``, JSON with the rendered card."""
    row = event.row
    payload = {
        "id": str(event.event_id),
        "version": event.changed_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "hit": bool(row["watchlists"]),
        "plate": row["corrected"] or row["plate"],
        "camera": row["camera_id"],
        "html": fragment("_event_card.html", e=row),
    }
    return f"event: plate\nid: {event.cursor}\ndata: {json.dumps(payload)}\n\n"


@router.get("/live")
def live_page(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    camera: Annotated[str | None, Query(max_length=200)] = None,
    sound: Annotated[bool, Query()] = False,
):
    """The latest events, then new ones as they are stored."""
    cams = (camera,) if camera else ()
    events = latest(conn, cameras=cams, limit=60)
    cursor = max((e for e in events), key=lambda e: e.changed_at).cursor if events else ""
    if not cursor:
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        cursor = f"{now.isoformat()}|"
    cameras = sorted({c["camera_id"] for c in stats.camera_totals(conn)} | set(cams))
    return html(
        request,
        "live.html",
        session,
        events=[e.row for e in reversed(events)],
        cursor=cursor,
        camera=camera,
        cameras=cameras,
        sound=sound,
    )


@router.get("/live/stream")
async def live_stream(
    request: Request,
    session: Annotated[Session, Depends(viewer)],
    camera: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """Events changed after the page's last one (``Last-Event-ID`` or ``after``), then live."""
    svc = services(request)
    feed: LiveFeed = request.app.state.console_feed
    since = parse_cursor(request.headers.get("last-event-id")) or parse_cursor(after)
    if since is None:
        since = datetime.now(UTC)
    cams = (camera,) if camera else ()
    sub = feed.subscribe()

    def catch_up() -> list[LiveEvent]:
        with svc.pool.connection() as conn:
            return changed_since(conn, since - timedelta(seconds=LAG_S), cameras=cams, limit=1000)

    async def stream() -> AsyncIterator[str]:
        sent: dict[object, datetime] = {}
        try:
            yield "retry: 1000\n\n"
            for event in await run_in_threadpool(catch_up):
                sent[event.event_id] = event.changed_at
                yield message(event)
            quiet_since = checked_at = time.monotonic()
            while not feed.closed and not sub.overflowed:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=1.0)
                except TimeoutError:
                    now = time.monotonic()
                    if now - checked_at > RECHECK_SESSION_S:
                        checked_at = now
                        if await current(request) is None:
                            yield "event: signout\ndata: {}\n\n"
                            return
                    if now - quiet_since > KEEPALIVE_S:
                        quiet_since = now
                        yield ": keepalive\n\n"
                    continue
                if cams and event.camera_id not in cams:
                    continue
                if sent.get(event.event_id) == event.changed_at:
                    continue
                sent[event.event_id] = event.changed_at
                if len(sent) > 5000:
                    sent.clear()
                quiet_since = time.monotonic()
                yield message(event)
        finally:
            feed.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
