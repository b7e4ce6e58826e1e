"""Liveness (/health) and readiness (/ready: database, object storage, broker)."""

from __future__ import annotations

import socket
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import services
from api.models import Readiness
from api.storage import StorageError

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is up")
def health() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


def broker_reachable(bootstrap_servers: str, timeout_s: float = 2.0) -> None:
    """Raise ``OSError`` unless some bootstrap server accepts a TCP connection."""
    errors = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {exc}")
    raise OSError("; ".join(errors) or "no bootstrap servers")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Database, object storage and broker answer",
    responses={503: {"model": Readiness}},
)
def ready(request: Request) -> Any:
    """200 when every dependency answers, else 503 with the failing checks."""
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        with svc.pool.connection(timeout=min(2.0, svc.settings.api.pool_timeout_s)) as conn:
            conn.execute("SELECT 1 FROM plate_events LIMIT 0")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"{type(exc).__name__}: {exc}"
    try:
        svc.images.ready()
        checks["s3"] = "ok"
    except StorageError as exc:
        checks["s3"] = str(exc)
    try:
        broker_reachable(svc.settings.kafka.bootstrap_servers)
        checks["broker"] = "ok"
    except OSError as exc:
        checks["broker"] = str(exc)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)
