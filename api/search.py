"""Plate event search: the query (a frozen record), its SQL, keyset cursors.

Results are newest first, ordered by ``(first_seen, event_id)`` descending; the cursor is
that pair of the last row, so pages stay stable while new events arrive. Every value goes
to the server as a parameter; only fixed SQL fragments are concatenated.

Plate matching (``match``), on the normalised plate (:func:`operators.normalise.compact`):

- ``exact``: equal plates.
- ``prefix``: plates starting with the text.
- ``wildcard``: ``*`` any run of characters, ``?`` one character (``AB*7``, ``?BC123``).
- ``fuzzy``: Levenshtein distance <= ``max_distance`` (candidates from the trigram index).
- ``confusion``: confusion-aware distance (:func:`operators.normalise.plate_distance`, O/0, I/1,
  B/8 ... cost 0.5) <= ``max_distance`` (candidates from the trigram index of the folded plate).

An event matches on its read (``plate_events.plate``) or on any operator correction of it
(``plate_corrections.plate``), so a corrected read is found under both plates.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from operators.normalise import compact, fold_confusions

Match = Literal["exact", "prefix", "wildcard", "fuzzy", "confusion"]
MATCHES: tuple[Match, ...] = ("exact", "prefix", "wildcard", "fuzzy", "confusion")

EVENT_COLUMNS = (
    "event_id", "first_seen", "last_seen", "frame_ts", "site", "camera_id", "track_id", "plate",
    "plate_raw", "region", "confidence", "sightings", "crop_key", "provisional",
    "vehicle_type", "vehicle_colour", "vehicle_make", "vehicle_model", "vehicle_bbox", "no_plate",
)  # fmt: skip
_SELECT = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)


class SearchError(ValueError):
    """The search parameters are invalid (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last row of a page."""

    first_seen: datetime
    event_id: uuid.UUID

    def encode(self) -> str:
        """Opaque URL-safe text."""
        raw = json.dumps([self.first_seen.isoformat(), str(self.event_id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse :meth:`encode`'s output; :class:`SearchError` when it is not one."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            first_seen, event_id = json.loads(raw)
            when = datetime.fromisoformat(first_seen)
            if when.tzinfo is None:
                raise ValueError("naive time")
            return cls(when, uuid.UUID(event_id))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise SearchError(f"cursor {text[:40]!r} is not valid") from exc


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A search of plate events; validated on construction (raises :class:`SearchError`)."""

    plate: str | None = None
    match: Match = "exact"
    max_distance: int = 1
    camera_ids: tuple[str, ...] = ()
    site: str | None = None
    region: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    watchlist_hit: bool | None = None
    watchlist_id: int | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    no_plate: bool | None = None
    cursor: Cursor | None = None
    limit: int = 50
    aliases: tuple[str, ...] = ()  # other stored forms of the plate (pseudonymised), exact match only
    normalised: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise SearchError(f"match must be one of {MATCHES}, got {self.match!r}")
        if not 0 <= self.max_distance <= 3:
            raise SearchError(f"max_distance must be 0..3, got {self.max_distance}")
        if self.limit < 1:
            raise SearchError(f"limit must be >= 1, got {self.limit}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise SearchError(f"{name} must carry a time zone, got {value.isoformat()}")
        if self.start and self.end and self.start >= self.end:
            raise SearchError("start must be before end")
        if self.plate is not None:
            plate = wildcard_pattern(self.plate) if self.match == "wildcard" else compact(self.plate)
            if not plate.strip("%_"):
                raise SearchError(f"plate {self.plate!r} has no letters or digits")
            object.__setattr__(self, "normalised", plate)
        elif self.match != "exact":
            raise SearchError(f"match={self.match} needs a plate")

    def to_audit(self) -> dict[str, Any]:
        """The parameters as JSON for the audit trail."""
        return {
            "plate": self.normalised,
            "match": self.match,
            "max_distance": self.max_distance,
            "camera_ids": list(self.camera_ids),
            "site": self.site,
            "region": self.region,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "watchlist_hit": self.watchlist_hit,
            "watchlist_id": self.watchlist_id,
            "vehicle_type": self.vehicle_type,
            "vehicle_colour": self.vehicle_colour,
            "no_plate": self.no_plate,
            "cursor": self.cursor is not None,
            "limit": self.limit,
        }


def wildcard_pattern(text: str) -> str:
    """A LIKE pattern of ``text``: ``*`` -> ``%``, ``?`` -> ``_``, the rest normalised like plates.

    >>> wildcard_pattern("ab-1*?")
    'AB1%_'
    """
    parts = re.split(r"([*?])", text)
    return "".join("%" if p == "*" else "_" if p == "?" else compact(p) for p in parts)


def _plate_match(query: EventQuery, column: str, params: dict[str, Any]) -> str:
    """The SQL condition of ``query``'s plate on ``column`` (parameters added to ``params``)."""
    plate = query.normalised
    params["plate"] = plate
    params["d"] = query.max_distance
    if query.match == "exact" and query.aliases:
        params["plates"] = [plate, *query.aliases]
        return f"{column} = ANY(%(plates)s)"
    if query.match == "exact":
        return f"{column} = %(plate)s"
    if query.match == "prefix":
        # compact() leaves only A-Z0-9: nothing to escape for LIKE.
        params["prefix"] = f"{plate}%"
        return f"{column} LIKE %(prefix)s"
    if query.match == "wildcard":
        return f"{column} LIKE %(plate)s"
    if query.match == "fuzzy":
        return f"{column} %% %(plate)s AND levenshtein({column}, %(plate)s) <= %(d)s"
    return (
        f"alpr_fold_plate({column}) %% alpr_fold_plate(%(plate)s) AND alpr_plate_distance({column}, %(plate)s) <= %(d)s"
    )


def _distance(query: EventQuery, column: str) -> str:
    if query.match == "fuzzy":
        return f"levenshtein({column}, %(plate)s)::real"
    if query.match == "confusion":
        return f"alpr_plate_distance({column}, %(plate)s)"
    return "0::real" if query.match == "exact" and not query.aliases else "NULL::real"


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word (letters and digits only): lower case, padded "  word ".

    >>> sorted(trigrams("AB1"))
    ['  a', ' ab', 'ab1', 'b1 ']
    """
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity_threshold(query: EventQuery) -> float:
    """The highest pg_trgm threshold at which every plate ``max_distance`` edits away is a candidate.

    Each edit removes at most 3 of the searched plate's ``k`` distinct trigrams and adds at most
    3 others, so a plate ``d`` edits away shares at least ``k - 3d`` of them, out of at most
    ``k + 3d`` in all: its similarity is at least ``(k - 3d) / (k + 3d)``. For ``confusion`` the
    bound holds on the folded plates (the confusion distance is at least their edit distance).
    The tighter the threshold, the fewer rows the trigram index hands over for the distance check.
    """
    plate = query.normalised or ""
    if query.match == "confusion":
        plate = fold_confusions(plate)
    k, d = len(trigrams(plate)), query.max_distance
    return max(0.0, round((k - 3 * d) / (k + 3 * d) - 0.01, 3))  # a margin for float rounding


def corrections_sql(query: EventQuery) -> tuple[str, dict[str, Any]] | None:
    """SQL of the ids of events with an operator correction matching ``query``'s plate (one row, an
    array); None when the query has no plate."""
    if query.normalised is None:
        return None
    params: dict[str, Any] = {}
    match = _plate_match(query, "c.plate", params)
    return f"SELECT coalesce(array_agg(DISTINCT c.event_id), '{{}}') FROM plate_corrections c WHERE {match}", params


def search_sql(query: EventQuery, corrected: Sequence[uuid.UUID] = ()) -> tuple[str, dict[str, Any]]:
    """SQL and parameters of ``query``: rows of :data:`EVENT_COLUMNS` plus ``distance``.

    ``corrected`` are the ids of events whose corrections match (from :func:`corrections_sql`).
    The events whose read matches come from one ordered, limited branch served per chunk or
    partition by the plate indexes (and on compressed TimescaleDB chunks by their bloom filters);
    corrected events, when there are any, from a second branch by event id. One ``OR`` of both
    conditions would keep the indexes from serving the first.
    """
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit + 1}  # one more: is there a next page?
    if query.camera_ids:
        params["cameras"] = list(query.camera_ids)
        where.append("e.camera_id = ANY(%(cameras)s)")
    if query.site is not None:
        params["site"] = query.site
        where.append("e.site = %(site)s")
    if query.region is not None:
        params["region"] = query.region
        where.append("e.region = %(region)s")
    for name in ("vehicle_type", "vehicle_colour", "no_plate"):
        value = getattr(query, name)
        if value is not None:
            params[name] = value
            where.append(f"e.{name} = %({name})s")
    if query.start is not None:
        params["start"] = query.start
        where.append("e.first_seen >= %(start)s")
    if query.end is not None:
        params["end"] = query.end
        where.append("e.first_seen < %(end)s")
    if query.watchlist_hit is not None or query.watchlist_id is not None:
        params["wl"] = query.watchlist_id
        exists = (
            "EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = e.event_id"
            " AND (%(wl)s::int IS NULL OR a.watchlist_id = %(wl)s::int))"
        )
        where.append(f"NOT {exists}" if query.watchlist_hit is False else exists)
    if query.cursor is not None:
        params["c_time"] = query.cursor.first_seen
        params["c_id"] = query.cursor.event_id
        where.append("(e.first_seen, e.event_id) < (%(c_time)s, %(c_id)s)")
    order = " ORDER BY e.first_seen DESC, e.event_id DESC LIMIT %(limit)s"
    if query.normalised is None:
        return (
            f"SELECT {_SELECT}, NULL::real AS distance FROM plate_events e"
            + (" WHERE " + " AND ".join(where) if where else "")
            + order
        ), params

    distance = _distance(query, "e.plate")
    if query.match in ("fuzzy", "confusion"):
        closest = _distance(query, "c.plate")
        distance = f"LEAST({distance}, (SELECT min({closest}) FROM plate_corrections c WHERE c.event_id = e.event_id))"
    read = (
        f"SELECT {_SELECT}, {distance} AS distance FROM plate_events e"
        f" WHERE {' AND '.join([_plate_match(query, 'e.plate', params), *where])}{order}"
    )
    if not corrected:
        return read, params
    params["corrected"] = list(corrected)
    by_correction = (
        f"SELECT {_SELECT}, {distance} AS distance FROM plate_events e"
        f" WHERE {' AND '.join(['e.event_id = ANY(%(corrected)s)', *where])}{order}"
    )
    return f"SELECT * FROM (({read}) UNION ({by_correction})) AS e{order}", params


def corrected_events(conn: psycopg.Connection[Any], query: EventQuery) -> list[uuid.UUID]:
    """Ids of the events whose corrections match ``query``'s plate (a small table: one probe)."""
    lookup = corrections_sql(query)
    if lookup is None:
        return []
    row = conn.execute(*lookup).fetchone()
    return list(row[0]) if row and row[0] else []


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and the cursor of the next (None on the last page)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def run_search(
    conn: psycopg.Connection[Any],
    query: EventQuery,
    *,
    audit_as: str | None = None,
    durable_audit: bool = True,
) -> Page:
    """Run ``query`` on an autocommit ``conn`` in one transaction, pipelined: one round trip, two
    for a plate search (the ids of events with matching corrections come first, see :func:`search_sql`).

    With ``audit_as``, an ``events.search`` audit row naming that actor is written in the same
    transaction, so no search goes unrecorded. ``durable_audit=False`` commits it without
    waiting for the WAL flush (``synchronous_commit = off`` for this transaction only): a
    server crash may lose the last fraction of a second of audit rows, each search saves an fsync.
    """
    with conn.pipeline(), conn.transaction():
        if audit_as is not None:
            if not durable_audit:
                conn.execute("SELECT set_config('synchronous_commit', 'off', true)")
            conn.execute(
                "INSERT INTO audit_log (actor, action, details) VALUES (%s, 'events.search', %s)",
                (audit_as, Jsonb(query.to_audit())),
            )
        if query.match in ("fuzzy", "confusion") and query.normalised is not None:
            conn.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                (str(similarity_threshold(query)),),
            )
        sql, params = search_sql(query, corrected_events(conn, query))
        cur = conn.execute(sql, params)
        fetched = cur.fetchall()  # syncs the pipeline; description is known from here on
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, r, strict=True)) for r in fetched]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = Cursor(rows[-1]["first_seen"], rows[-1]["event_id"]).encode() if more and rows else None
    return Page(rows, cursor)


def explain_search(conn: psycopg.Connection[Any], query: EventQuery, *, analyze: bool = True) -> list[Any]:
    """The JSON plan of ``query`` as :func:`run_search` runs it (``EXPLAIN (ANALYZE, FORMAT JSON)``)."""
    with conn.transaction():
        if query.match in ("fuzzy", "confusion") and query.normalised is not None:
            conn.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                (str(similarity_threshold(query)),),
            )
        sql, params = search_sql(query, corrected_events(conn, query))
        row = conn.execute(f"EXPLAIN ({'ANALYZE, ' if analyze else ''}FORMAT JSON) {sql}", params).fetchone()
    if row is None:  # EXPLAIN always returns its plan
        raise RuntimeError("EXPLAIN returned no plan")
    return row[0]
