"""Watchlists CRUD, entries, CSV import and export (writes need an admin key)."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from api import audit, watchlists
from api.deps import admin, reader, services
from api.keys import ApiKey
from api.models import Entry, EntryIn, ImportResult, Watchlist, WatchlistDetail, WatchlistIn, WatchlistPatch
from api.routes.common import Conn
from api.watchlist_csv import parse_csv, validate_entry, write_csv

router = APIRouter(prefix="/watchlists", tags=["watchlists"])


def _found(conn: psycopg.Connection[Any], watchlist_id: int) -> watchlists.WatchlistRow:
    row = watchlists.get(conn, watchlist_id) if 1 <= watchlist_id < 2**31 else None
    if row is None:
        raise HTTPException(404, f"no watchlist {watchlist_id}")
    return row


@router.get("", response_model=list[Watchlist], summary="All watchlists")
def list_watchlists(conn: Conn, key: Annotated[ApiKey, Depends(reader)]) -> list[dict[str, Any]]:
    """Every watchlist with its entry count."""
    return [w.to_json() for w in watchlists.list_all(conn)]


@router.post("", response_model=Watchlist, status_code=201, summary="Create a watchlist")
def create_watchlist(body: WatchlistIn, conn: Conn, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    """A new, empty watchlist; 409 when the name is taken."""
    with conn.transaction():
        try:
            row = watchlists.create(
                conn, body.name, description=body.description, severity=body.severity, channels=body.channels
            )
        except watchlists.WatchlistError as exc:
            raise HTTPException(409, str(exc)) from exc
        audit.record(conn, key.name, "watchlist.create", {"watchlist_id": row.id, "name": row.name})
    return row.to_json()


@router.get("/{watchlist_id}", response_model=WatchlistDetail, summary="A watchlist and its entries")
def get_watchlist(watchlist_id: int, conn: Conn, key: Annotated[ApiKey, Depends(reader)]) -> dict[str, Any]:
    """The list and every entry."""
    row = _found(conn, watchlist_id)
    return {**row.to_json(), "entry_list": watchlists.entries(conn, watchlist_id)}


@router.patch("/{watchlist_id}", response_model=Watchlist, summary="Change a watchlist")
def patch_watchlist(
    watchlist_id: int, body: WatchlistPatch, conn: Conn, key: Annotated[ApiKey, Depends(admin)]
) -> dict[str, Any]:
    """Change name, description, severity or channels."""
    _found(conn, watchlist_id)
    changes = body.model_dump(exclude_none=True)
    with conn.transaction():
        try:
            row = watchlists.update(conn, watchlist_id, changes)
        except watchlists.WatchlistError as exc:
            raise HTTPException(409, str(exc)) from exc
        audit.record(conn, key.name, "watchlist.update", {"watchlist_id": watchlist_id, "changes": changes})
    return row.to_json()


@router.delete("/{watchlist_id}", status_code=204, summary="Delete a watchlist and its entries")
def delete_watchlist(watchlist_id: int, conn: Conn, key: Annotated[ApiKey, Depends(admin)]) -> Response:
    """Delete; its alerts stay (history)."""
    _found(conn, watchlist_id)
    with conn.transaction():
        watchlists.delete(conn, watchlist_id)
        audit.record(conn, key.name, "watchlist.delete", {"watchlist_id": watchlist_id})
    return Response(status_code=204)


@router.post("/{watchlist_id}/entries", response_model=Entry, status_code=201, summary="Add an entry")
def add_entry(
    request: Request, watchlist_id: int, body: EntryIn, conn: Conn, key: Annotated[ApiKey, Depends(admin)]
) -> dict[str, Any]:
    """Add one entry (exact/fuzzy patterns are normalised; a regex must run on the linear-time
    engine within ``limits.regex_program_size``; strings within ``limits``, printable)."""
    _found(conn, watchlist_id)
    try:
        entry = validate_entry(
            body.pattern,
            body.match_type,
            body.max_distance,
            body.severity,
            body.note,
            body.expires_at,
            limits=services(request).settings.limits,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    entry_id = watchlists.add_entry_as(conn, watchlist_id, entry, key.name)
    return next(e for e in watchlists.entries(conn, watchlist_id) if e["id"] == entry_id)


@router.delete("/{watchlist_id}/entries/{entry_id}", status_code=204, summary="Remove an entry")
def remove_entry(watchlist_id: int, entry_id: int, conn: Conn, key: Annotated[ApiKey, Depends(admin)]) -> Response:
    """Delete one entry of the list."""
    _found(conn, watchlist_id)
    with conn.transaction():
        if not (1 <= entry_id < 2**63 and watchlists.remove(conn, watchlist_id, entry_id)):
            raise HTTPException(404, f"watchlist {watchlist_id} has no entry {entry_id}")
        audit.record(conn, key.name, "watchlist.entry.remove", {"watchlist_id": watchlist_id, "entry_id": entry_id})
    return Response(status_code=204)


@router.get(
    "/{watchlist_id}/export",
    summary="Entries as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(watchlist_id: int, conn: Conn, key: Annotated[ApiKey, Depends(reader)]) -> Response:
    """The list's entries as CSV (the import format)."""
    row = _found(conn, watchlist_id)
    text = write_csv(watchlists.entry_inputs(conn, watchlist_id))
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="watchlist-{row.id}.csv"'},
    )


@router.post(
    "/{watchlist_id}/import",
    response_model=ImportResult,
    summary="Import entries from CSV",
    responses={422: {"description": "Line-numbered errors; nothing was imported."}},
)
def import_csv(
    request: Request,
    watchlist_id: int,
    conn: Conn,
    key: Annotated[ApiKey, Depends(admin)],
    body: Annotated[str, Body(media_type="text/csv", description="CSV with a header line (see docs).")],
    replace: Annotated[bool, Query(description="Delete the list's entries first.")] = False,
) -> Any:
    """All-or-nothing import: any bad line -> 422 listing every error with its line number."""
    _found(conn, watchlist_id)
    entries, errors = parse_csv(body, limits=services(request).settings.limits)
    if errors:
        return JSONResponse(
            {
                "detail": "CSV has errors; nothing imported",
                "errors": [{"line": e.line, "message": e.message} for e in errors],
            },
            status_code=422,
        )
    ids = watchlists.import_as(conn, watchlist_id, entries, key.name, replace=replace)
    return {"imported": len(ids), "replaced": replace}
