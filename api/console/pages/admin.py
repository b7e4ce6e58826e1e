"""Admin: API keys (a new key is shown once; revoke), retention, erase a plate, the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import audit
from api.console.auth import administrator, changer
from api.console.pages.common import Conn, flash, router
from api.console.render import html
from api.console.sessions import Session
from api.deps import services
from api.keys import ApiKeyError, create_key, list_keys, revoke_key
from api.privacy import erase_configured, retention_now
from api.storage import StorageError
from operators.normalise import compact

router = router()


def _page(
    request: Request,
    conn: Conn,
    session: Session,
    *,
    flash_text: str | None = None,
    new_token: str | None = None,
    new_name: str | None = None,
    report: dict | None = None,
    actor: str | None = None,
    action: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = services(request).settings
    return html(
        request,
        "admin.html",
        session,
        status_code=status_code,
        keys=list_keys(conn),
        retention=settings.api.retention,
        reads_days=settings.api.retention.reads_days or settings.database.reads_retention_days,
        audit_rows=audit.recent(conn, actor=actor or None, action=action or None, limit=100),
        actor=actor,
        action=action,
        flash=flash_text,
        new_token=new_token,
        new_name=new_name,
        report=report,
    )


@router.get("/admin")
def admin_page(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(administrator)],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Keys, retention, erasure and the latest 100 audit rows (filter by actor and action)."""
    return _page(request, conn, session, flash_text=flash(msg), actor=actor, action=action)


@router.post("/admin/keys")
def new_key(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[str, Form(max_length=10)] = "read",
) -> Response:
    """Create a key and show its token this once (the page is not cached; only a hash is stored)."""
    with conn.transaction():
        try:
            key, token = create_key(conn, name.strip(), role)  # type: ignore[arg-type]
        except ApiKeyError as exc:
            raise HTTPException(422, str(exc)) from exc
        audit.record(conn, session.name, "key.create", {"name": key.name, "role": key.role})
    return _page(request, conn, session, new_token=token, new_name=key.name)


@router.post("/admin/keys/{name}/revoke")
def revoke(name: str, conn: Conn, session: Annotated[Session, Depends(changer)]) -> Response:
    """Revoke a key: it and every console session signed in with it stop working."""
    with conn.transaction():
        try:
            key = revoke_key(conn, name)
        except ApiKeyError as exc:
            raise HTTPException(404, str(exc)) from exc
        conn.execute("DELETE FROM console_sessions WHERE key_id = %s", (key.id,))
        audit.record(conn, session.name, "key.revoke", {"name": name})
    return RedirectResponse("/console/admin?msg=revoked", status_code=303)


@router.post("/admin/erase")
def erase(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    plate: Annotated[str, Form(min_length=1, max_length=50)],
    confirm: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Erase a plate everywhere once it is typed twice (audited; the plate is kept only as a digest)."""
    if not compact(plate) or compact(plate) != compact(confirm):
        raise HTTPException(422, "type the plate a second time to confirm the erasure")
    svc = services(request)
    try:
        report = erase_configured(conn, svc.images, svc.settings, plate, actor=session.name, reason=reason)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    except StorageError as exc:
        raise HTTPException(503, f"object storage failed, nothing erased: {exc}") from exc
    return _page(request, conn, session, flash_text="Plate erased.", report=report.to_json())


@router.post("/admin/retention")
def retention(request: Request, conn: Conn, session: Annotated[Session, Depends(changer)]) -> Response:
    """Apply the retention policy now (audited)."""
    svc = services(request)
    try:
        report = retention_now(conn, svc.images, svc.settings, actor=session.name)
    except StorageError as exc:
        raise HTTPException(503, str(exc)) from exc
    return _page(request, conn, session, flash_text="Retention applied.", report=report.to_json())
