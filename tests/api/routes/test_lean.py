"""api/routes/lean.py: a lean route answers as FastAPI's own route of the same endpoint would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api import keys
from api.app import make_pool
from api.deps import Services, admin, reader
from api.keys import ApiKey
from api.models import EventPage
from api.ratelimit import RateLimiter
from api.routes import events
from api.routes.lean import LeanRoute
from api.storage import CropImages
from config.settings import Settings


def _app(route_class: type[APIRoute], settings: Settings, db: psycopg.Connection[Any]) -> FastAPI:
    """``GET /events`` (the real endpoint) under ``route_class``, keys looked up in the test database."""
    app = FastAPI()
    router = APIRouter(prefix="/events")
    router.add_api_route(
        "", events.search_events, methods=["GET"], response_model=EventPage, route_class_override=route_class
    )
    app.include_router(router)
    app.state.services = Services(
        settings=settings,
        pool=make_pool(settings),  # closed: no request here reaches the search
        images=CropImages(settings.s3),
        keys=keys.KeyCache(lambda token: keys.find_key(db, token), 0),
        limiter=RateLimiter(0, 1),
    )
    return app


@pytest.fixture(scope="module")
def clients(api_settings: Settings, db: psycopg.Connection[Any]) -> Iterator[tuple[TestClient, TestClient]]:
    """Clients of the same endpoint served by FastAPI's APIRoute and by LeanRoute."""
    with TestClient(_app(APIRoute, api_settings, db)) as plain, TestClient(_app(LeanRoute, api_settings, db)) as lean:
        yield plain, lean


BAD_QUERIES = [
    "limit=0",
    "limit=abc",
    "limit=",
    "limit=1001",
    "limit=5&limit=abc",  # the last of repeated values counts
    "max_distance=9",
    "max_distance=-1&plate=AB1&match=fuzzy",
    "match=nope",
    "plate=" + "A" * 33,
    "site=" + "s" * 201,
    "start=2026-01-01T00:00:00",  # no zone
    "start=garbage&end=x&limit=0",  # every bad parameter is named
    "watchlist_id=0",
    "watchlist_id=2147483648",
    "watchlist_hit=maybe",
    "no_plate=2",
    "camera_id=" + "&camera_id=".join(["c"] * 51),
    "vehicle_type=" + "x" * 33,
    "cursor=" + "c" * 201,
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_parameters_answer_the_same_422(clients, keys, query):
    plain, lean = clients
    got = [c.get(f"/events?{query}", headers={"X-API-Key": keys.read}) for c in (plain, lean)]
    assert got[0].status_code == 422
    assert got[1].status_code == 422
    assert got[1].json() == got[0].json()


@pytest.mark.parametrize(
    ("headers", "query"),
    [({}, ""), ({"X-API-Key": ""}, ""), ({"X-API-Key": "nope"}, "limit=0"), ("revoked", "limit=0")],
)
def test_key_is_checked_before_parameters_as_fastapi_does(clients, keys, headers, query):
    plain, lean = clients
    headers = {"X-API-Key": keys.revoked} if headers == "revoked" else headers
    got = [c.get(f"/events?{query}", headers=headers) for c in (plain, lean)]
    assert got[0].status_code == 401
    assert (got[1].status_code, got[1].json(), got[1].headers.get("www-authenticate")) == (
        got[0].status_code,
        got[0].json(),
        got[0].headers.get("www-authenticate"),
    )


def test_openapi_document_is_the_same(clients):
    plain, lean = clients
    assert lean.get("/openapi.json").json() == plain.get("/openapi.json").json()


def test_served_api_uses_the_lean_route_for_search():
    from api.routes.events import router

    lean = [r for r in router.routes if isinstance(r, LeanRoute)]
    assert [(r.path, r.methods) for r in lean] == [("/events", {"GET"})]


async def _path_param(request: Request, key: Annotated[ApiKey, Depends(reader)], item: int) -> Response:
    return Response()


def _sync(request: Request, key: Annotated[ApiKey, Depends(reader)]) -> Response:
    return Response()


async def _two_checks(
    request: Request, key: Annotated[ApiKey, Depends(reader)], other: Annotated[ApiKey, Depends(admin)]
) -> Response:
    return Response()


async def _no_check(request: Request, q: int = 0) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("path", "endpoint", "message"),
    [
        ("/x/{item}", _path_param, "Request, one key check and query parameters"),
        ("/x", _sync, "async"),
        ("/x", _two_checks, "exactly one key check"),
        ("/x", _no_check, "exactly one key check"),
    ],
)
def test_routes_it_cannot_serve_are_refused_when_declared(path, endpoint, message):
    router = APIRouter()
    with pytest.raises(TypeError, match=message):
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=LeanRoute)


async def _lean_ok(request: Request, key: Annotated[ApiKey, Depends(reader)], q: int = 0) -> Response:
    return Response(str(q))


def test_a_router_included_with_more_dependencies_is_refused():
    router = APIRouter()
    router.add_api_route("/x", _lean_ok, methods=["GET"], route_class_override=LeanRoute)
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(admin)])
    with pytest.raises(TypeError, match="exactly one key check"):  # FastAPI builds included routes on first use
        TestClient(app).get("/x")
