"""Search plate events (the API's search: exact, prefix, wildcard, fuzzy, confusion-aware), CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from api import audit
from api.console.auth import viewer
from api.console.pages.common import Conn, enrich, parse_local_time, router
from api.console.render import html
from api.console.sessions import Session
from api.corrections import current_plates
from api.deps import services
from api.routes.common import page_limit
from api.search import MATCHES, Cursor, EventQuery, SearchError, run_search

router = router()
EXPORT_MAX_ROWS = 10_000
EXPORT_COLUMNS = (
    "event_id", "first_seen", "last_seen", "site", "camera_id", "plate", "corrected_plate", "corrected_by",
    "plate_raw", "region", "confidence", "sightings", "provisional",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SearchForm:
    """The search form's fields as the page sends them."""

    plate: str | None
    match: str
    max_distance: int
    camera: str | None
    site: str | None
    region: str | None
    start: str | None
    end: str | None
    hits: bool

    @property
    def asked(self) -> bool:
        """True once anything is filled in (an empty form searches nothing)."""
        return any((self.plate, self.camera, self.site, self.region, self.start, self.end, self.hits))

    def params(self) -> dict[str, Any]:
        """The fields as query parameters (for links: next page, export)."""
        return {
            "plate": self.plate,
            "match": self.match,
            "max_distance": self.max_distance if self.match in ("fuzzy", "confusion") else None,
            "camera": self.camera,
            "site": self.site,
            "region": self.region,
            "start": self.start,
            "end": self.end,
            "hits": "1" if self.hits else None,
        }

    def query(self, *, limit: int, cursor: str | None = None) -> EventQuery:
        """The :class:`api.search.EventQuery` (422 page when invalid)."""
        try:
            return EventQuery(
                plate=self.plate or None,
                match=self.match,  # type: ignore[arg-type]
                max_distance=self.max_distance,
                camera_ids=(self.camera,) if self.camera else (),
                site=self.site or None,
                region=self.region or None,
                start=parse_local_time(self.start, "from"),
                end=parse_local_time(self.end, "until"),
                watchlist_hit=True if self.hits else None,
                cursor=Cursor.decode(cursor) if cursor else None,
                limit=limit,
            )
        except SearchError as exc:
            raise HTTPException(422, str(exc)) from exc


def search_form(
    plate: Annotated[str | None, Query(max_length=32)] = None,
    match: Annotated[str, Query(max_length=20)] = "exact",
    max_distance: Annotated[int, Query(ge=0, le=3)] = 1,
    camera: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    region: Annotated[str | None, Query(max_length=50)] = None,
    start: Annotated[str | None, Query(max_length=40)] = None,
    end: Annotated[str | None, Query(max_length=40)] = None,
    hits: Annotated[bool, Query()] = False,
) -> SearchForm:
    """Dependency: the search form from the query string."""
    return SearchForm(
        (plate or "").strip() or None, match, max_distance, camera or None, site or None, region or None,
        start or None, end or None, hits,
    )  # fmt: skip


@router.get("/search")
def search_page(
    request: Request,
    conn: Conn,
    session: Annotated[Session, Depends(viewer)],
    form: Annotated[SearchForm, Depends(search_form)],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
):
    """The search form and one page of results, newest first."""
    svc = services(request)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    if form.asked:
        query = form.query(limit=page_limit(svc, limit or 25), cursor=cursor)
        page = run_search(conn, query, audit_as=session.name, durable_audit=svc.settings.api.durable_audit)
        rows, next_cursor = enrich(conn, page.rows), page.next_cursor
    return html(
        request,
        "search.html",
        session,
        form=form,
        params=form.params(),
        matches=MATCHES,
        rows=rows,
        next_cursor=next_cursor,
        paged=cursor is not None,
    )


def _csv_rows(conn: Any, form: SearchForm, actor: str, durable: bool) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    cursor: str | None = None
    written = 0
    while written < EXPORT_MAX_ROWS:
        page = run_search(conn, form.query(limit=min(500, EXPORT_MAX_ROWS - written), cursor=cursor))
        corrected = current_plates(conn, [r["event_id"] for r in page.rows])
        for r in page.rows:
            c = corrected.get(r["event_id"])
            writer.writerow(
                [
                    r["event_id"], r["first_seen"].isoformat(), r["last_seen"].isoformat(), _cell(r["site"]),
                    _cell(r["camera_id"]), r["plate"], c.plate if c else "", _cell(c.actor) if c else "",
                    _cell(r["plate_raw"]), _cell(r["region"] or ""), f"{r['confidence']:.3f}", r["sightings"],
                    r["provisional"],
                ]
            )  # fmt: skip
        written += len(page.rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        cursor = page.next_cursor
        if cursor is None:
            break


def _cell(text: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ (or tab/CR) gets a leading quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/search.csv")
def export_csv(
    request: Request,
    session: Annotated[Session, Depends(viewer)],
    form: Annotated[SearchForm, Depends(search_form)],
) -> Response:
    """Every result of the search (up to 10,000 rows) as CSV, audited as one export."""
    if not form.asked:
        raise HTTPException(422, "fill in the search first")
    svc = services(request)
    form.query(limit=1)  # invalid searches fail before the download starts

    def body() -> Iterator[str]:
        with svc.pool.connection() as conn:
            audit.record(conn, session.name, "events.export", {**form.query(limit=1).to_audit(), "limit": None})
            yield from _csv_rows(conn, form, session.name, svc.settings.api.durable_audit)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="plate-events.csv"'},
    )
