"""What every route needs: the process's services, the caller's key (auth + rate limit)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from api.audit import AuditWriter
from api.keys import ApiKey, KeyCache, Role
from api.ratelimit import RateLimiter
from api.storage import CropImages
from config.settings import Settings

API_KEY_HEADER = "X-API-Key"
# One header, two security schemes, so that the OpenAPI document says which role each route needs
# (a route under ``AdminKey`` answers 403 to a read key; tests/api/test_auth.py derives its checks
# from this).
_HEADERS: dict[Role, APIKeyHeader] = {
    "read": APIKeyHeader(
        name=API_KEY_HEADER,
        scheme_name="ReadKey",
        auto_error=False,
        description="A read or admin API key (`alpr api keys create NAME`).",
    ),
    "admin": APIKeyHeader(
        name=API_KEY_HEADER,
        scheme_name="AdminKey",
        auto_error=False,
        description="An admin API key (`alpr api keys create NAME --role admin`); a read key gets 403.",
    ),
}


@dataclass(slots=True)
class Services:
    """Shared by all requests of one app: settings, database pool, object storage, key cache, limiter,
    and the audit writer of searches (None when ``api.audit_flush_s`` is 0: rows go in each search's
    transaction)."""

    settings: Settings
    pool: ConnectionPool
    images: CropImages
    keys: KeyCache
    limiter: RateLimiter
    audit: AuditWriter | None = None
    #: How exact plate searches run on this database (api.search.dictionary_for_exact), read on the
    #: first search; None until the storage path is known.
    exact_via_dictionary: bool | None = None


def services(request: Request) -> Services:
    """The app's :class:`Services`."""
    return request.app.state.services


def connection(request: Request) -> Iterator[psycopg.Connection[Any]]:
    """A pooled (autocommit) connection for the duration of the request."""
    with services(request).pool.connection() as conn:
        yield conn


async def authenticate(request: Request, token: str | None, role: Role) -> ApiKey:
    """The caller's key for a route of ``role``: 401 without a valid, unrevoked key, 403 for a read key
    on an admin route, 429 over the key's rate (with Retry-After); the key's name becomes the
    request's ``actor`` (access log). async: a cached key costs no thread hop; a lookup runs in the
    thread pool."""
    if not token:
        raise HTTPException(401, f"missing API key ({API_KEY_HEADER} header)", {"WWW-Authenticate": "ApiKey"})
    svc = services(request)
    found, key = svc.keys.cached(token)
    if not found:
        key = await run_in_threadpool(svc.keys.get, token)
    if key is None or not key.active:
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "ApiKey"})
    if role == "admin" and key.role != "admin":
        raise HTTPException(403, f"key {key.name!r} has role {key.role!r}; this needs 'admin'")
    wait = svc.limiter.allow(key.name)
    if wait > 0:
        raise HTTPException(429, "rate limit exceeded", {"Retry-After": str(max(1, math.ceil(wait)))})
    request.state.actor = key.name
    return key


#: The role each key-check dependency made by :func:`require` asks for (api/routes/lean.py serves
#: routes under these without FastAPI's dependency solving).
ROLE_OF_CHECK: dict[Callable[..., Awaitable[ApiKey]], Role] = {}


def require(role: Role) -> Callable[..., Awaitable[ApiKey]]:
    """Dependency: a valid, unrevoked key of ``role`` (admin passes every role).

    No or unknown or revoked key -> 401; a read key on an admin route -> 403; over the
    key's rate -> 429 with Retry-After.
    """

    async def caller(request: Request, token: str | None = Security(_HEADERS[role])) -> ApiKey:
        return await authenticate(request, token, role)

    ROLE_OF_CHECK[caller] = role
    return caller


reader = require("read")
admin = require("admin")
