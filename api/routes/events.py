"""Search plate events; one event with its crop URL and alerts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import AwareDatetime
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from api import audit, events
from api.deps import Services, reader, services
from api.keys import ApiKey
from api.models import EventDetail, EventPage
from api.routes.common import Conn, page_limit
from api.routes.lean import LeanRoute
from api.search import Cursor, EventQuery, Match, SearchError, dictionary_for_exact, run_search

router = APIRouter(prefix="/events", tags=["events"])


def _hashed_forms(svc: Services, plate: str | None, match: str) -> tuple[str, ...]:
    """The pseudonymised form of ``plate`` when plates are hashed (exact search finds those too)."""
    privacy = svc.settings.api.privacy
    if plate is None or match != "exact" or not privacy.hash_plates or privacy.secret is None:
        return ()
    from api.privacy import hashed_plate

    return (hashed_plate(plate, privacy.secret.get_secret_value().encode()),)


async def search_events(
    request: Request,
    key: Annotated[ApiKey, Depends(reader)],
    plate: Annotated[str | None, Query(max_length=32, description="Plate text (normalised before matching).")] = None,
    match: Annotated[
        Match,
        Query(description="exact | prefix | fuzzy (edit distance) | confusion (O/0, I/1 ... cost 0.5)."),
    ] = "exact",
    max_distance: Annotated[int, Query(ge=0, le=3, description="Largest distance for fuzzy/confusion.")] = 1,
    camera_id: Annotated[list[str], Query(max_length=50, description="One or more cameras.")] = [],  # noqa: B006
    site: Annotated[str | None, Query(max_length=200)] = None,
    region: Annotated[str | None, Query(max_length=50)] = None,
    start: Annotated[AwareDatetime | None, Query(description="first_seen >= start (ISO 8601 with zone).")] = None,
    end: Annotated[AwareDatetime | None, Query(description="first_seen < end.")] = None,
    watchlist_hit: Annotated[
        bool | None, Query(description="Only events with (true) / without (false) an alert.")
    ] = None,
    watchlist_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only events that hit this watchlist.")
    ] = None,
    vehicle_type: Annotated[
        str | None, Query(max_length=32, description="Vehicle type: car, truck, bus or motorcycle.")
    ] = None,
    vehicle_colour: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Vehicle colour: black, blue, brown, green, grey, orange, purple, red, white or yellow.",
        ),
    ] = None,
    no_plate: Annotated[
        bool | None,
        Query(description="Only vehicles that passed with no plate seen (true) / only plate reads (false)."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Rows per page (<= api.max_page_size).")] = None,
) -> Response:
    """Search by plate (exact, prefix, fuzzy, confusion-aware), camera, site, region, time, watchlist hit,
    vehicle type and colour, and no-plate vehicles."""
    svc = services(request)
    try:
        query = EventQuery(
            plate=plate,
            match=match,
            max_distance=max_distance,
            camera_ids=tuple(camera_id),
            site=site,
            region=region,
            start=start,
            end=end,
            watchlist_hit=watchlist_hit,
            watchlist_id=watchlist_id,
            vehicle_type=vehicle_type.lower() if vehicle_type else None,
            vehicle_colour=vehicle_colour.lower() if vehicle_colour else None,
            no_plate=no_plate,
            cursor=Cursor.decode(cursor) if cursor else None,
            limit=page_limit(svc, limit),
            aliases=_hashed_forms(svc, plate, match),
        )
    except SearchError as exc:
        raise HTTPException(422, str(exc)) from exc
    # One thread hop per search: the connection, the SQL and the JSON; the rest runs on the loop.
    body = await run_in_threadpool(_search_json, svc, query, key.name)
    if svc.audit is not None:
        svc.audit.add(key.name, "events.search", query.to_audit())  # queued before any row is answered
    return Response(body, media_type="application/json")


# Served by LeanRoute: one validation of the 15 query parameters and one key check per search,
# not FastAPI's per-parameter solving (api/routes/lean.py); the OpenAPI document is the same.
router.add_api_route(
    "",
    search_events,
    methods=["GET"],
    response_model=EventPage,
    summary="Search plate events, newest first",
    route_class_override=LeanRoute,
)


def _search_json(svc: Services, query: EventQuery, actor: str) -> bytes:
    """Run ``query`` (with its audit row when not batched) and serialise the page.

    Serialised here, not validated again against EventPage: the rows are EVENT_COLUMNS + distance
    straight from SQL (tests/api/test_search.py holds them to the model), and re-validating 50 rows
    cost more than the search. pydantic_core writes the same JSON as the model would.
    """
    with svc.pool.connection() as conn:
        if svc.exact_via_dictionary is None:
            svc.exact_via_dictionary = dictionary_for_exact(conn)
        how = svc.exact_via_dictionary
        if svc.audit is None:
            page = run_search(
                conn, query, audit_as=actor, durable_audit=svc.settings.api.durable_audit, exact_via_dictionary=how
            )
        else:
            page = run_search(conn, query, exact_via_dictionary=how)
    return to_json({"items": page.rows, "next_cursor": page.next_cursor})


@router.get("/{event_id}", response_model=EventDetail, summary="One event, its crop URL and alerts")
def get_event(
    request: Request, event_id: uuid.UUID, conn: Conn, key: Annotated[ApiKey, Depends(reader)]
) -> dict[str, Any]:
    """The latest version of an event, a presigned crop URL (when a crop is stored) and its alerts."""
    svc = services(request)
    event = events.find(conn, event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id}")
    audit.record(conn, key.name, "events.get", {"event_id": str(event_id), "plate": event["plate"]})
    if event["crop_key"]:
        event["crop_url"] = svc.images.presigned_url(event["crop_key"])
        event["crop_url_expires_s"] = svc.images.presign_seconds
    return events.with_alerts(conn, event)
