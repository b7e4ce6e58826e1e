"""The watchlist tables (``watchlists``, ``watchlist_entries``): what the flow reads and what the
API and tools write.

:func:`read_entries` loads the entries that have not expired (the flow's index,
:mod:`flows.watchlists`), :data:`SIGNATURE_SQL` tells whether anything changed; the writers
(:func:`create_watchlist`, :func:`add_entry`, :func:`remove_entry`) serve the API and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from operators.records import RecordError, WatchlistEntry

#: One md5 over the list and entry rows (and the count of expired entries): changes with any of them.
SIGNATURE_SQL = """
SELECT md5(
    coalesce((SELECT string_agg(concat_ws('|', id, name, severity, channels::text), ',' ORDER BY id)
                FROM watchlists), '')
    || '#' ||
    coalesce((SELECT string_agg(concat_ws('|', id, watchlist_id, pattern, match_type, max_distance,
                                          severity, expires_at, updated_at), ',' ORDER BY id)
                FROM watchlist_entries), '')
    || '#' ||
    (SELECT count(*) FROM watchlist_entries WHERE expires_at <= now())::text
)
"""

_ENTRIES_SQL = """
SELECT e.id, w.id, w.name, e.pattern, e.match_type, e.max_distance,
       coalesce(e.severity, w.severity), w.channels, e.expires_at
FROM watchlist_entries e
JOIN watchlists w ON w.id = e.watchlist_id
WHERE e.expires_at IS NULL OR e.expires_at > now()
ORDER BY e.id
"""


def read_entries(conn: psycopg.Connection[Any]) -> tuple[list[WatchlistEntry], list[tuple[int, str]]]:
    """The entries that have not expired, and ``(entry_id, reason)`` of the rows that are invalid."""
    entries: list[WatchlistEntry] = []
    skipped: list[tuple[int, str]] = []
    for (
        entry_id,
        list_id,
        name,
        pattern,
        match_type,
        max_distance,
        severity,
        channels,
        expires,
    ) in conn.execute(_ENTRIES_SQL):
        try:
            entries.append(
                WatchlistEntry(
                    entry_id=entry_id,
                    watchlist_id=list_id,
                    watchlist=name,
                    pattern=pattern,
                    match_type=match_type,
                    max_distance=max_distance,
                    severity=severity,
                    channels=tuple(channels or ()),
                    expires_at=expires,
                )
            )
        except RecordError as exc:
            skipped.append((entry_id, str(exc)))
    return entries, skipped


def create_watchlist(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    severity: str = "medium",
    channels: Sequence[str] = (),
    description: str = "",
) -> int:
    """Create (or update, by name) a watchlist; returns its id."""
    cur = conn.execute(
        """INSERT INTO watchlists (name, description, severity, channels) VALUES (%s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
               severity = EXCLUDED.severity, channels = EXCLUDED.channels
           RETURNING id""",
        (name, description, severity, list(channels)),
    )
    return _returned_id(cur)


def add_entry(
    conn: psycopg.Connection[Any],
    watchlist_id: int,
    pattern: str,
    match_type: str = "exact",
    *,
    max_distance: int = 1,
    severity: str | None = None,
    note: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Add an entry to a watchlist; returns its id."""
    cur = conn.execute(
        """INSERT INTO watchlist_entries
               (watchlist_id, pattern, match_type, max_distance, severity, note, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (watchlist_id, pattern, match_type, max_distance, severity, note, expires_at),
    )
    return _returned_id(cur)


def _returned_id(cur: psycopg.Cursor[Any]) -> int:
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("INSERT ... RETURNING id returned no row")
    return int(row[0])


def remove_entry(conn: psycopg.Connection[Any], entry_id: int) -> bool:
    """Delete an entry; True when it existed."""
    return conn.execute("DELETE FROM watchlist_entries WHERE id = %s", (entry_id,)).rowcount == 1
