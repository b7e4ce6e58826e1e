"""Watchlists and their entries in the database (used by the routes and the CLI).

Entry writes reuse :mod:`flows.watchlists`' helpers, so the flow and the API write the same
rows; the flow's store notices every change at its next poll.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

from api import audit
from api.watchlist_csv import EntryInput
from db.watchlists import add_entry, remove_entry

__all__ = [
    "WatchlistError",
    "WatchlistRow",
    "add_entries",
    "add_entry_as",
    "import_as",
    "create",
    "delete",
    "entries",
    "entry_inputs",
    "get",
    "list_all",
    "listings",
    "remove",
    "require",
    "update",
]


class WatchlistError(ValueError):
    """A watchlist change cannot be made (unknown list, duplicate name)."""


@dataclass(frozen=True, slots=True)
class WatchlistRow:
    """A watchlist with its entry count."""

    id: int
    name: str
    description: str
    severity: str
    channels: list[str]
    created_at: datetime
    entries: int

    def to_json(self) -> dict[str, Any]:
        """Plain dict for responses."""
        return asdict(self)


_LIST_SQL = """
SELECT w.id, w.name, w.description, w.severity, w.channels, w.created_at,
       (SELECT count(*) FROM watchlist_entries e WHERE e.watchlist_id = w.id)::int
FROM watchlists w
"""


def list_all(conn: psycopg.Connection[Any]) -> list[WatchlistRow]:
    """Every watchlist, by name."""
    return [WatchlistRow(*r) for r in conn.execute(_LIST_SQL + " ORDER BY w.name").fetchall()]


def get(conn: psycopg.Connection[Any], watchlist: int | str) -> WatchlistRow | None:
    """The watchlist with this id (int) or name (str)."""
    column = "w.id" if isinstance(watchlist, int) else "w.name"
    row = conn.execute(_LIST_SQL + f" WHERE {column} = %s", (watchlist,)).fetchone()
    return WatchlistRow(*row) if row else None


def require(conn: psycopg.Connection[Any], watchlist: int | str) -> WatchlistRow:
    """:func:`get`, raising :class:`WatchlistError` when there is no such list."""
    row = get(conn, watchlist)
    if row is None:
        raise WatchlistError(f"no watchlist {watchlist!r}")
    return row


def create(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    description: str = "",
    severity: str = "medium",
    channels: list[str] | tuple[str, ...] = (),
) -> WatchlistRow:
    """A new watchlist; :class:`WatchlistError` when the name is taken."""
    try:
        row = conn.execute(
            "INSERT INTO watchlists (name, description, severity, channels) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO NOTHING RETURNING id",
            (name, description, severity, list(channels)),
        ).fetchone()
    except psycopg.errors.DataError as exc:
        raise WatchlistError(f"invalid watchlist: {exc}") from exc
    if row is None:
        raise WatchlistError(f"a watchlist named {name!r} exists already")
    return require(conn, int(row[0]))


def update(conn: psycopg.Connection[Any], watchlist_id: int, changes: dict[str, Any]) -> WatchlistRow:
    """Change some of name, description, severity, channels."""
    allowed = {"name", "description", "severity", "channels"}
    sets = {k: v for k, v in changes.items() if k in allowed and v is not None}
    require(conn, watchlist_id)
    if sets:
        # Column names come from the fixed set above, values are parameters.
        assignments = ", ".join(f"{k} = %({k})s" for k in sorted(sets))
        try:
            conn.execute(f"UPDATE watchlists SET {assignments} WHERE id = %(id)s", {**sets, "id": watchlist_id})
        except psycopg.errors.UniqueViolation as exc:
            raise WatchlistError(f"a watchlist named {sets.get('name')!r} exists already") from exc
    return require(conn, watchlist_id)


def delete(conn: psycopg.Connection[Any], watchlist_id: int) -> bool:
    """Delete a list and its entries; True when it existed."""
    return conn.execute("DELETE FROM watchlists WHERE id = %s", (watchlist_id,)).rowcount == 1


def entries(conn: psycopg.Connection[Any], watchlist_id: int) -> list[dict[str, Any]]:
    """Entries of a list, oldest first."""
    cur = conn.execute(
        "SELECT id, pattern, match_type, max_distance, severity, note, expires_at, created_at, updated_at"
        " FROM watchlist_entries WHERE watchlist_id = %s ORDER BY id",
        (watchlist_id,),
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def add_entries(
    conn: psycopg.Connection[Any], watchlist_id: int, new: list[EntryInput], *, replace: bool = False
) -> list[int]:
    """Insert ``new`` (after deleting the list's entries when ``replace``), in one transaction."""
    with conn.transaction():
        require(conn, watchlist_id)
        if replace:
            conn.execute("DELETE FROM watchlist_entries WHERE watchlist_id = %s", (watchlist_id,))
        return [
            add_entry(
                conn,
                watchlist_id,
                e.pattern,
                e.match_type,
                max_distance=e.max_distance,
                severity=e.severity,
                note=e.note,
                expires_at=e.expires_at,
            )
            for e in new
        ]


def entry_inputs(conn: psycopg.Connection[Any], watchlist_id: int) -> list[EntryInput]:
    """The list's entries as :class:`EntryInput` (for CSV export)."""
    return [
        EntryInput(e["pattern"], e["match_type"], e["max_distance"], e["severity"], e["note"], e["expires_at"])
        for e in entries(conn, watchlist_id)
    ]


def remove(conn: psycopg.Connection[Any], watchlist_id: int, entry_id: int) -> bool:
    """Delete one entry of a list; True when it existed in that list."""
    row = conn.execute(
        "SELECT 1 FROM watchlist_entries WHERE id = %s AND watchlist_id = %s", (entry_id, watchlist_id)
    ).fetchone()
    return bool(row) and remove_entry(conn, entry_id)


def listings(conn: psycopg.Connection[Any], plate: str) -> list[dict[str, Any]]:
    """Unexpired exact and fuzzy entries that ``plate`` (normalised) matches, with their list.

    Regex entries are matched by the flow (Python ``re``), not here.
    """
    cur = conn.execute(
        "SELECT w.id AS watchlist_id, w.name AS watchlist, e.id, e.pattern, e.match_type, e.max_distance,"
        " coalesce(e.severity, w.severity) AS severity, e.note, e.expires_at"
        " FROM watchlist_entries e JOIN watchlists w ON w.id = e.watchlist_id"
        " WHERE (e.expires_at IS NULL OR e.expires_at > now())"
        " AND ((e.match_type = 'exact' AND e.pattern = %(p)s)"
        "   OR (e.match_type = 'fuzzy' AND levenshtein(e.pattern, %(p)s) <= e.max_distance))"
        " ORDER BY w.name, e.id",
        {"p": plate},
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def add_entry_as(conn: psycopg.Connection[Any], watchlist_id: int, entry: EntryInput, actor: str) -> int:
    """Add one entry, audited as ``actor`` (``watchlist.entry.add``), in one transaction; its id."""
    with conn.transaction():
        (entry_id,) = add_entries(conn, watchlist_id, [entry])
        audit.record(
            conn,
            actor,
            "watchlist.entry.add",
            {"watchlist_id": watchlist_id, "entry_id": entry_id, "pattern": entry.pattern},
        )
    return entry_id


def import_as(
    conn: psycopg.Connection[Any], watchlist_id: int, new: list[EntryInput], actor: str, *, replace: bool = False
) -> list[int]:
    """Import parsed CSV entries, audited as ``actor`` (``watchlist.import``), in one transaction."""
    with conn.transaction():
        ids = add_entries(conn, watchlist_id, new, replace=replace)
        audit.record(
            conn, actor, "watchlist.import", {"watchlist_id": watchlist_id, "entries": len(ids), "replace": replace}
        )
    return ids
