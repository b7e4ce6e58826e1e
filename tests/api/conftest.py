"""Fixtures of the API tests: the API served by uvicorn on a free loopback port, keys, rows."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from config.api import ApiSettings, RetentionSettings
from config.settings import Settings


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    """The stack's settings, with key caching and rate limits off (tests revoke keys mid-session)."""
    api = ApiSettings(key_cache_s=0, rate_limit_per_s=0, retention=RetentionSettings(interval_s=0))
    return settings.model_copy(update={"api": api})


@pytest.fixture(scope="session")
def db(api_settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test database."""
    with psycopg.connect(api_settings.database.url.get_secret_value(), autocommit=True) as conn:
        yield conn


@dataclass(frozen=True)
class Keys:
    """Tokens of the session's keys."""

    read: str
    admin: str
    revoked: str
    read_name: str
    admin_name: str


@pytest.fixture(scope="session")
def keys(db: psycopg.Connection[Any]) -> Keys:
    """A read key, an admin key and a revoked read key."""
    from api.keys import create_key, revoke_key

    tag = secrets.token_hex(3)
    read, read_token = create_key(db, f"test-read-{tag}", "read")
    admin, admin_token = create_key(db, f"test-admin-{tag}", "admin")
    revoked, revoked_token = create_key(db, f"test-revoked-{tag}", "read")
    revoke_key(db, revoked.name)
    return Keys(read_token, admin_token, revoked_token, read.name, admin.name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Serve the API for ``settings`` with uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    from api.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def api_url(api_settings: Settings) -> Iterator[str]:
    """Base URL of the API served by uvicorn in a thread of this process."""
    with serve(api_settings) as url:
        yield url


@pytest.fixture(scope="session")
def reader(api_url: str, keys: Keys) -> Iterator[httpx.Client]:
    """HTTP client with the read key."""
    with httpx.Client(base_url=api_url, headers={"X-API-Key": keys.read}, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin(api_url: str, keys: Keys) -> Iterator[httpx.Client]:
    """HTTP client with the admin key."""
    with httpx.Client(base_url=api_url, headers={"X-API-Key": keys.admin}, timeout=30) as client:
        yield client


def insert_event(
    conn: psycopg.Connection[Any],
    *,
    plate: str,
    camera_id: str,
    first_seen: datetime,
    site: str = "site-a",
    region: str | None = None,
    confidence: float = 0.9,
    crop_key: str | None = None,
    plate_raw: str | None = None,
    sightings: int = 3,
) -> uuid.UUID:
    """Insert one plate event the way the flow's sink stores it; returns its id."""
    event_id = uuid.uuid4()
    conn.execute(
        """INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,
               plate, plate_raw, region, confidence, sightings, crop_key, crop_url, provisional)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, false)""",
        (
            event_id,
            first_seen,
            first_seen,
            first_seen,
            site,
            camera_id,
            f"t-{event_id.hex[:8]}",
            plate,
            plate_raw or plate,
            region,
            confidence,
            sightings,
            crop_key,
            None,
        ),
    )
    return event_id


def insert_alert(
    conn: psycopg.Connection[Any],
    *,
    event_id: uuid.UUID,
    watchlist_id: int,
    plate: str,
    camera_id: str,
    observed_at: datetime,
    channels: dict[str, str],
) -> uuid.UUID:
    """An alert row and one delivery row per channel (channel -> status)."""
    alert_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO alerts (alert_id, event_id, entry_id, watchlist_id, plate, camera_id, site, observed_at,"
        " severity) VALUES (%s, %s, 1, %s, %s, %s, 'site-a', %s, 'high')",
        (alert_id, event_id, watchlist_id, plate, camera_id, observed_at),
    )
    for channel, status in channels.items():
        conn.execute(
            "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, last_error)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                alert_id,
                channel,
                status,
                5 if status == "failed" else 1,
                "HTTP 500" if status == "failed" else None,
            ),
        )
    return alert_id


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document: method, path template and the security scheme it names."""

    method: str
    path: str
    scheme: str | None  # "ReadKey", "AdminKey", or None for public routes
    params: dict[str, dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def sample_path(self) -> str:
        """The path with each parameter filled by a value of its type (one that names nothing stored)."""
        values = {
            name: "00000000-0000-0000-0000-000000000000"
            if schema.get("format") == "uuid"
            else "987654321"
            if schema.get("type") == "integer"
            else "x"
            for name, schema in self.params.items()
        }
        return self.path.format(**values)


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document (building the app opens no connection)."""
    from api.app import create_app

    return create_app(Settings()).openapi()


def operations() -> list[Operation]:
    """Every operation of the OpenAPI document, so that tests cover new routes by themselves."""
    found = []
    for path, ops in openapi_document()["paths"].items():
        for method, op in ops.items():
            schemes = [name for requirement in op.get("security", []) for name in requirement]
            params = {p["name"]: p.get("schema", {}) for p in op.get("parameters", []) if p["in"] == "path"}
            found.append(Operation(method.upper(), path, schemes[0] if schemes else None, params))
    return found
