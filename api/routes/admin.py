"""Admin actions: erase a plate everywhere, read the audit trail, apply retention now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api import audit
from api.deps import admin, services
from api.keys import ApiKey
from api.models import AuditRow, EraseIn, Erasure
from api.privacy import erase_configured, retention_now
from api.routes.common import Conn
from api.storage import StorageError

router = APIRouter(prefix="/admin", tags=["admin"])


def flush_audit(request: Request) -> None:
    """Write this process's queued audit rows now; 503 when the database does not take them."""
    writer = services(request).audit
    if writer is not None and not writer.flush():
        raise HTTPException(503, "audit trail unavailable")


@router.post("/erase", response_model=Erasure, summary="Erase a plate's reads, images and alerts")
def erase(request: Request, body: EraseIn, conn: Conn, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    """Remove every read, crop and alert of the plate; the erasure is recorded (plate as a digest)."""
    svc = services(request)
    flush_audit(request)  # queued search rows naming the plate are redacted with the rest
    try:
        report = erase_configured(conn, svc.images, svc.settings, body.plate, actor=key.name, reason=body.reason)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    except StorageError as exc:
        raise HTTPException(503, f"object storage failed, nothing erased: {exc}") from exc
    return report.to_json()


@router.get("/audit", response_model=list[AuditRow], summary="The audit trail, newest first")
def audit_trail(
    request: Request,
    conn: Conn,
    key: Annotated[ApiKey, Depends(admin)],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Who searched or changed what, and when."""
    flush_audit(request)  # this process's queued rows too
    return audit.recent(conn, actor=actor, action=action, limit=limit)


@router.post("/retention", summary="Apply the retention policy now")
def retention(request: Request, conn: Conn, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    """Drop reads, images, alerts and audit rows older than api.retention allows."""
    svc = services(request)
    try:
        report = retention_now(conn, svc.images, svc.settings, actor=key.name)
    except StorageError as exc:
        raise HTTPException(503, str(exc)) from exc
    return report.to_json()
