"""The FastAPI application: ``create_app(settings)``.

Every route but /health, /ready and the docs needs an API key (``X-API-Key``). Handlers are
plain functions run in FastAPI's thread pool over a psycopg connection pool (the plate search is
async and hops to the pool once); all SQL is parameterised. Searches' audit rows go through an
:class:`~api.audit.AuditWriter` started and flushed by the lifespan. Database or storage outages
answer 503, never a stack trace.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from api import keys, metrics
from api.audit import AuditBacklogError, AuditWriter
from api.deps import API_KEY_HEADER, Services
from api.ratelimit import RateLimiter
from api.routes import admin, alerts, events, health, stats, watchlists
from api.storage import CropImages, StorageError
from config.settings import Settings

log = logging.getLogger(__name__)


# FastAPI's own OpenTelemetry hooks (newer FastAPI) look the providers up on every request; the API
# has its Prometheus metrics and access log (api/metrics.py), so they stay off.
_NO_OPENTELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)


def make_pool(settings: Settings, *, max_size: int | None = None) -> ConnectionPool:
    """A closed pool of autocommit connections with the API's statement timeout."""
    return ConnectionPool(
        settings.database.url.get_secret_value(),
        min_size=1,
        max_size=max_size or settings.api.pool_size,
        kwargs={
            "autocommit": True,
            "connect_timeout": 5,
            "options": f"-c statement_timeout={settings.api.statement_timeout_ms}",
            "application_name": "alpr-api",
        },
        timeout=settings.api.pool_timeout_s,
        open=False,
        name="alpr-api",
    )


def create_app(settings: Settings) -> FastAPI:
    """The API for ``settings`` (the pool opens at startup and closes at shutdown)."""
    pool = make_pool(settings)

    def lookup(token: str) -> keys.ApiKey | None:
        with pool.connection() as conn:
            return keys.find_key(conn, token)

    services = Services(
        settings=settings,
        pool=pool,
        images=CropImages(settings.s3),
        keys=keys.KeyCache(lookup, settings.api.key_cache_s),
        limiter=RateLimiter(settings.api.rate_limit_per_s, settings.api.rate_limit_burst),
        audit=AuditWriter(pool.connection, flush_s=settings.api.audit_flush_s, max_rows=settings.api.audit_queue_rows)
        if settings.api.audit_flush_s > 0
        else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        if services.audit is not None:
            services.audit.start()
        try:
            yield
        finally:
            if feed is not None:
                feed.close()
            if services.audit is not None:
                # After the last request (uvicorn drains them first): nothing queued is lost.
                await run_in_threadpool(services.audit.close)
            pool.close()

    app = FastAPI(
        title="ALPR query API",
        version="0.1.0",
        description=(
            "Search plate events, manage watchlists, follow alert delivery, erase plates. "
            f"Send an API key in the `{API_KEY_HEADER}` header; read keys search, admin keys also change."
        ),
        lifespan=lifespan,
        **_NO_OPENTELEMETRY,
    )
    app.state.services = services

    for router in (
        health.router,
        events.router,
        stats.router,
        watchlists.router,
        alerts.router,
        admin.router,
    ):
        app.include_router(router)
    feed = None
    if settings.api.console.enabled:
        from api.console.mount import install

        feed = install(app, settings)

    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[API_KEY_HEADER, "Content-Type"],
        )

    # Added last = outermost: metrics see every answer, including the body limit's.
    app.add_middleware(metrics.BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(metrics.MetricsMiddleware, access_log=settings.api.access_log)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.exception_handler(AuditBacklogError)
    async def audit_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("audit trail unavailable on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "audit trail unavailable"}, status_code=503)

    @app.exception_handler(psycopg.DataError)
    async def bad_value(request: Request, exc: Exception) -> JSONResponse:
        # e.g. a NUL character in a text parameter: the client's value, not a server fault.
        return JSONResponse({"detail": f"invalid value: {exc}"}, status_code=422)

    @app.exception_handler(StorageError)
    async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("object storage unavailable on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "object storage unavailable"}, status_code=503)

    return app
