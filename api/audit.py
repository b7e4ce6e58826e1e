"""The audit trail: who did what through the API or the CLI (``audit_log``)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def record(conn: psycopg.Connection[Any], actor: str, action: str, details: dict[str, Any]) -> None:
    """Append one audit row (in the caller's transaction, if any)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, details) VALUES (%s, %s, %s)", (actor, action, Jsonb(details))
    )


def recent(
    conn: psycopg.Connection[Any], *, actor: str | None = None, action: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The latest audit rows, newest first, optionally of one actor and/or action."""
    rows = conn.execute(
        "SELECT id, at, actor, action, details FROM audit_log"
        " WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)"
        " AND (%(action)s::text IS NULL OR action = %(action)s)"
        " ORDER BY at DESC, id DESC LIMIT %(limit)s",
        {"actor": actor, "action": action, "limit": limit},
    ).fetchall()
    return [dict(zip(("id", "at", "actor", "action", "details"), r, strict=True)) for r in rows]
