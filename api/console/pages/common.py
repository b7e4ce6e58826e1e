"""What the page modules share: the router factory, the connection type, rows enriched for display."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException

from api.alerts import alerts_of_events
from api.console.auth import ConsoleRoute
from api.corrections import current_plates
from api.deps import connection

Conn = Annotated[psycopg.Connection[Any], Depends(connection)]

#: Messages a redirect may ask a page to show (``?msg=code``): fixed texts, never echoed input.
MESSAGES = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "entry-added": "Entry added.",
    "entry-removed": "Entry removed.",
    "imported": "Imported.",
    "redelivered": "Queued for redelivery: the flow's dispatcher sends it at its next poll.",
    "corrected": "Correction saved; the original read is kept.",
    "revoked": "Key revoked; its sessions have ended.",
    "erased": "Plate erased.",
    "retention": "Retention applied.",
}


def router() -> APIRouter:
    """A router of console pages (not in the OpenAPI schema, refusals rendered as pages)."""
    return APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def flash(msg: str | None) -> str | None:
    """The fixed text of a ``?msg=`` code."""
    return MESSAGES.get(msg or "")


def parse_local_time(text: str | None, name: str) -> datetime | None:
    """A ``datetime-local`` form value (UTC; the form says so), or None when empty."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name}: not a date and time: {text[:40]!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def enrich(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event rows with what cards show: latest correction, watchlists hit, version."""
    ids: list[uuid.UUID] = [r["event_id"] for r in rows]
    corrected = current_plates(conn, ids)
    hits: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for alert in alerts_of_events(conn, ids):
        hits.setdefault(alert["event_id"], []).append(alert)
    out = []
    for r in rows:
        c = corrected.get(r["event_id"])
        alerts = hits.get(r["event_id"], [])
        out.append(
            {
                **r,
                "corrected": c.plate if c else None,
                "corrected_by": c.actor if c else None,
                "watchlists": ", ".join(sorted({a["watchlist"] or f"#{a['watchlist_id']}" for a in alerts})) or None,
                "severity": alerts[0]["severity"] if alerts else None,
                "changed_at": max([r.get("changed_at") or r["first_seen"]] + ([c.at] if c else [])),
            }
        )
    return out


def safe_next(target: str | None, default: str = "/console/live") -> str:
    """``target`` when it is a console path (no open redirects), else ``default``."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
