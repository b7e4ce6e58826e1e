"""Watchlists: create, edit, delete; entries (exact, regex, fuzzy, with expiry); CSV import and export.

Writes go through :mod:`api.watchlists` (as the REST routes do) and are audited with the same
action names; the flow's watchlist store sees every change at its next poll.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from api import audit, watchlists
from api.console.auth import changer, viewer
from api.console.pages.common import Conn, flash, parse_local_time, router
from api.console.render import html
from api.console.sessions import Session
from api.watchlist_csv import MATCH_TYPES, LineError, parse_csv, validate_entry, write_csv

router = router()
MAX_IMPORT_BYTES = 1_000_000


def _found(conn: Any, watchlist_id: int) -> watchlists.WatchlistRow:
    row = watchlists.get(conn, watchlist_id) if 1 <= watchlist_id < 2**31 else None
    if row is None:
        raise HTTPException(404, f"no watchlist {watchlist_id}")
    return row


def _channels(text: str) -> list[str]:
    names = [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]
    if len(names) > 20 or any(len(n) > 100 for n in names):
        raise HTTPException(422, "at most 20 channels of at most 100 characters each")
    return names


@router.get("/watchlists")
def list_page(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Every list with its entry count (and, for admins, a form to create one)."""
    return html(request, "watchlists.html", session, lists=watchlists.list_all(conn), flash=flash(msg))


@router.post("/watchlists")
def create(
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    severity: Annotated[str, Form(min_length=1, max_length=50)] = "medium",
    channels: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A new, empty list."""
    with conn.transaction():
        try:
            row = watchlists.create(
                conn, name.strip(), description=description, severity=severity, channels=_channels(channels)
            )
        except watchlists.WatchlistError as exc:
            raise HTTPException(409, str(exc)) from exc
        audit.record(conn, session.name, "watchlist.create", {"watchlist_id": row.id, "name": row.name})
    return RedirectResponse(f"/console/watchlists/{row.id}?msg=created", status_code=303)


@router.get("/watchlists/{watchlist_id}")
def detail_page(
    request: Request,
    watchlist_id: int,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """One list: its settings and entries; for admins the forms to change them."""
    row = _found(conn, watchlist_id)
    return html(
        request,
        "watchlist.html",
        session,
        wl=row,
        entries=watchlists.entries(conn, watchlist_id),
        match_types=MATCH_TYPES,
        flash=flash(msg),
        errors=[],
    )


@router.post("/watchlists/{watchlist_id}")
def update(
    watchlist_id: int,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    severity: Annotated[str, Form(min_length=1, max_length=50)] = "medium",
    channels: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Change the list's name, description, severity and channels."""
    _found(conn, watchlist_id)
    changes = {"name": name.strip(), "description": description, "severity": severity, "channels": _channels(channels)}
    with conn.transaction():
        try:
            watchlists.update(conn, watchlist_id, changes)
        except watchlists.WatchlistError as exc:
            raise HTTPException(409, str(exc)) from exc
        audit.record(conn, session.name, "watchlist.update", {"watchlist_id": watchlist_id, "changes": changes})
    return RedirectResponse(f"/console/watchlists/{watchlist_id}?msg=saved", status_code=303)


@router.post("/watchlists/{watchlist_id}/delete")
def delete(watchlist_id: int, conn: Conn, session: Annotated[Session, Depends(changer)]) -> Response:
    """Delete the list and its entries (its alerts stay: history)."""
    _found(conn, watchlist_id)
    with conn.transaction():
        watchlists.delete(conn, watchlist_id)
        audit.record(conn, session.name, "watchlist.delete", {"watchlist_id": watchlist_id})
    return RedirectResponse("/console/watchlists?msg=deleted", status_code=303)


@router.post("/watchlists/{watchlist_id}/entries")
def add_entry(
    watchlist_id: int,
    conn: Conn,
    session: Annotated[Session, Depends(changer)],
    pattern: Annotated[str, Form(min_length=1, max_length=200)],
    match_type: Annotated[str, Form(max_length=10)] = "exact",
    max_distance: Annotated[int, Form(ge=0, le=3)] = 1,
    severity: Annotated[str, Form(max_length=50)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    expires_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add one entry (exact and fuzzy patterns are normalised like plates; a regex must compile)."""
    _found(conn, watchlist_id)
    try:
        entry = validate_entry(
            pattern, match_type, max_distance, severity or None, note or None, parse_local_time(expires_at, "expires")
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    watchlists.add_entry_as(conn, watchlist_id, entry, session.name)
    return RedirectResponse(f"/console/watchlists/{watchlist_id}?msg=entry-added", status_code=303)


@router.post("/watchlists/{watchlist_id}/entries/{entry_id}/delete")
def remove_entry(
    watchlist_id: int, entry_id: int, conn: Conn, session: Annotated[Session, Depends(changer)]
) -> Response:
    """Delete one entry of the list."""
    _found(conn, watchlist_id)
    with conn.transaction():
        if not (1 <= entry_id < 2**63 and watchlists.remove(conn, watchlist_id, entry_id)):
            raise HTTPException(404, f"watchlist {watchlist_id} has no entry {entry_id}")
        audit.record(conn, session.name, "watchlist.entry.remove", {"watchlist_id": watchlist_id, "entry_id": entry_id})
    return RedirectResponse(f"/console/watchlists/{watchlist_id}?msg=entry-removed", status_code=303)


@router.post("/watchlists/{watchlist_id}/import")
async def import_csv(
    request: Request,
    watchlist_id: int,
    session: Annotated[Session, Depends(changer)],
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form(max_length=MAX_IMPORT_BYTES)] = "",
    replace: Annotated[bool, Form()] = False,
) -> Response:
    """All-or-nothing CSV import (file or pasted text); any bad line -> every error by line, nothing imported."""
    body = text
    if file is not None and file.filename:
        raw = await file.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            raise HTTPException(413, f"the file is larger than {MAX_IMPORT_BYTES} bytes")
        try:
            body = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HTTPException(422, "the file is not UTF-8 text") from None
    from starlette.concurrency import run_in_threadpool

    from api.deps import services

    def run() -> Response:
        with services(request).pool.connection() as conn:
            row = _found(conn, watchlist_id)
            entries, errors = parse_csv(body, limits=services(request).settings.limits)
            if errors:
                return _with_errors(request, conn, session, row, errors)
            watchlists.import_as(conn, watchlist_id, entries, session.name, replace=replace)
        return RedirectResponse(f"/console/watchlists/{watchlist_id}?msg=imported", status_code=303)

    return await run_in_threadpool(run)


def _with_errors(
    request: Request, conn: Any, session: Session, row: watchlists.WatchlistRow, errors: list[LineError]
) -> Response:
    return html(
        request,
        "watchlist.html",
        session,
        status_code=422,
        wl=row,
        entries=watchlists.entries(conn, row.id),
        match_types=MATCH_TYPES,
        flash=None,
        errors=errors,
    )


@router.get("/watchlists/{watchlist_id}/export.csv")
def export_csv(watchlist_id: int, conn: Conn, session: Annotated[Session, Depends(viewer)]) -> Response:
    """The list's entries as CSV (the import format)."""
    row = _found(conn, watchlist_id)
    audit.record(conn, session.name, "watchlist.export", {"watchlist_id": watchlist_id})
    return Response(
        write_csv(watchlists.entry_inputs(conn, watchlist_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="watchlist-{row.id}.csv"'},
    )
