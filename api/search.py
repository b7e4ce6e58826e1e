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
from datetime import UTC, date, datetime, timedelta
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


def _filters(query: EventQuery) -> tuple[list[str], dict[str, Any]]:
    """The conditions of ``query`` other than its plate, and their parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
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
    return where, params


_ORDER = " ORDER BY e.first_seen DESC, e.event_id DESC LIMIT %(limit)s"


def _read_distance(query: EventQuery) -> str:
    """The ``distance`` column of a read: to its plate, or (fuzzy, confusion) to the closest of its
    plate and its corrections. Uses the ``plate`` and ``d`` parameters."""
    distance = _distance(query, "e.plate")
    if query.match in ("fuzzy", "confusion"):
        closest = _distance(query, "c.plate")
        distance = f"LEAST({distance}, (SELECT min({closest}) FROM plate_corrections c WHERE c.event_id = e.event_id))"
    return distance


def search_sql(query: EventQuery, corrected: Sequence[uuid.UUID] = ()) -> tuple[str, dict[str, Any]]:
    """SQL and parameters of ``query`` as one direct query: rows of :data:`EVENT_COLUMNS` plus ``distance``.

    ``corrected`` are the ids of events whose corrections match (from :func:`corrections_sql`).
    The events whose read matches come from one ordered, limited branch served per chunk or
    partition by the plate indexes (and on compressed TimescaleDB chunks by their bloom filters);
    corrected events, when there are any, from a second branch by event id. One ``OR`` of both
    conditions would keep the indexes from serving the first. Plate searches use it when the
    dictionary holds too many candidates (:func:`search_rows`); it gives the same rows.
    """
    where, params = _filters(query)
    params["limit"] = query.limit + 1  # one more: is there a next page?
    if query.normalised is None:
        return (
            f"SELECT {_SELECT}, NULL::real AS distance FROM plate_events e"
            + (" WHERE " + " AND ".join(where) if where else "")
            + _ORDER
        ), params

    distance = _read_distance(query)
    read = (
        f"SELECT {_SELECT}, {distance} AS distance FROM plate_events e"
        f" WHERE {' AND '.join([_plate_match(query, 'e.plate', params), *where])}{_ORDER}"
    )
    if not corrected:
        return read, params
    params["corrected"] = list(corrected)
    by_correction = (
        f"SELECT {_SELECT}, {distance} AS distance FROM plate_events e"
        f" WHERE {' AND '.join(['e.event_id = ANY(%(corrected)s)', *where])}{_ORDER}"
    )
    return f"SELECT * FROM (({read}) UNION ({by_correction})) AS e{_ORDER}", params


def corrected_events(conn: psycopg.Connection[Any], query: EventQuery) -> list[uuid.UUID]:
    """Ids of the events whose corrections match ``query``'s plate (a small table: one probe)."""
    lookup = corrections_sql(query)
    if lookup is None:
        return []
    row = conn.execute(*lookup).fetchone()
    return list(row[0]) if row and row[0] else []


# ---------------------------------------------------------------------------------------------
# The plate dictionary (migration 0008): candidate plates and their days first, then their reads
# by exact plate in the chunks / partitions of those days only.

#: More candidate plates than this (a short prefix, a loose wildcard): the direct query instead.
DICTIONARY_MAX_CANDIDATES = 2000


def dictionary_for_exact(conn: psycopg.Connection[Any]) -> bool | None:
    """Whether exact plate searches on this database go through the dictionary: True on
    TimescaleDB, False on plain partitions, None before the storage path is chosen (migration 0002).

    On TimescaleDB, compressed chunks have no plate index (a bloom filter per camera's batch): an
    exact plate over 90 days checked every chunk's batches (257 ms at p99 on 10 million reads), and
    the dictionary's days and cameras take it to about 30 ms. On plain partitions every partition
    has its plate index: the direct statement, prepared once per connection (a generic plan with
    run-time partition pruning), answers in about 0.7 ms, where the dictionary's per-day branches
    are planned on every search (about 8 ms, most of it planning partitions). Prefix, wildcard,
    fuzzy and confusion searches use the dictionary on both paths.
    """
    from db.status import read_layout  # the db package's reader of storage_layout

    layout = read_layout(conn)
    return None if layout is None else layout.path == "timescaledb"


def _exact_way(conn: psycopg.Connection[Any], query: EventQuery, given: bool | None) -> bool:
    """``exact_via_dictionary`` for :func:`search_rows`: ``given``, else read for an exact plate
    (:func:`dictionary_for_exact`; unknown storage: the dictionary), else True (unused)."""
    if given is not None:
        return given
    if query.match == "exact" and query.normalised is not None:
        return dictionary_for_exact(conn) is not False
    return True


@dataclass(frozen=True, slots=True)
class Candidates:
    """Plates of the dictionary matching a query, by UTC day (only days the query can reach), newest
    day first, and the cameras each was read by (a superset). ``overflow``: more plates than
    :data:`DICTIONARY_MAX_CANDIDATES` matched."""

    by_day: tuple[tuple[date, tuple[str, ...]], ...]
    cameras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    overflow: bool = False


def dictionary_sql(query: EventQuery) -> tuple[str, dict[str, Any]]:
    """SQL of the plates of the dictionary matching ``query``'s plate, their days and cameras
    (``plate``, ``days``, ``cameras``), at most :data:`DICTIONARY_MAX_CANDIDATES` + 1 rows. Same
    match as the reads': fuzzy and confusion with the trigram threshold of
    :func:`similarity_threshold` set on the session."""
    params: dict[str, Any] = {"max": DICTIONARY_MAX_CANDIDATES + 1}
    match = _plate_match(query, "d.plate", params)
    return f"SELECT d.plate, d.days, d.cameras FROM plate_dictionary d WHERE {match} LIMIT %(max)s", params


def candidates_by_day(query: EventQuery, rows: Sequence[tuple[str, Sequence[date], Sequence[str]]]) -> Candidates:
    """Group dictionary ``rows`` (plate, days, cameras) by day, newest first, keeping the days that
    hold reads the query can return: within ``start``/``end`` and not after the cursor (days are
    UTC), and the plates read by one of the query's cameras, if it names some."""
    if len(rows) > DICTIONARY_MAX_CANDIDATES:
        return Candidates((), overflow=True)
    wanted = set(query.camera_ids)
    first = query.start.astimezone(UTC).date() if query.start else date.min
    last = date.max
    if query.end is not None:
        last = (query.end - timedelta(microseconds=1)).astimezone(UTC).date()
    if query.cursor is not None:
        last = min(last, query.cursor.first_seen.astimezone(UTC).date())
    by_day: dict[date, list[str]] = {}
    cameras: dict[str, tuple[str, ...]] = {}
    for plate, days, seen_by in rows:
        if wanted and wanted.isdisjoint(seen_by):
            continue
        cameras[plate] = tuple(seen_by)
        for day in days:
            if first <= day <= last:
                by_day.setdefault(day, []).append(plate)
    return Candidates(tuple((d, tuple(sorted(by_day[d]))) for d in sorted(by_day, reverse=True)), cameras)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def fetch_sql(
    query: EventQuery,
    days: Sequence[tuple[date, Sequence[str]]],
    limit: int,
    cameras: dict[str, tuple[str, ...]],
) -> tuple[str, dict[str, Any]]:
    """SQL of the reads of ``days`` (each with its candidate plates), newest first, at most ``limit``.

    One branch per day, each with the day's bounds as its own parameters: planned with their
    values (``prepare=False``), each branch reads the one chunk or partition of its day (plan-time
    exclusion), by exact plate (the plate index; on compressed chunks the segment-by index picks
    the batches of the plates' ``cameras``, and their bloom filters the plate). Every other
    condition of :func:`search_sql` applies as it is, so the rows are those the direct query finds:
    ``cameras`` (each candidate plate's, a superset) only leave out reads of other cameras, which
    carry none of these plates.
    """
    where, params = _filters(query)
    params |= {"limit": limit, "plate": query.normalised, "d": query.max_distance}
    distance = _read_distance(query)
    branches = []
    for i, (day, plates) in enumerate(days):
        params[f"p{i}"] = list(plates)
        params[f"lo{i}"] = _day_start(day)
        params[f"hi{i}"] = _day_start(day + timedelta(days=1))
        params[f"c{i}"] = sorted({c for p in plates for c in cameras[p]})
        conditions = [
            f"e.plate = ANY(%(p{i})s)",
            f"e.camera_id = ANY(%(c{i})s)",
            f"e.first_seen >= %(lo{i})s",
            f"e.first_seen < %(hi{i})s",
            *where,
        ]
        branches.append(
            f"(SELECT {_SELECT}, {distance} AS distance FROM plate_events e WHERE {' AND '.join(conditions)})"
        )
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS e{_ORDER}", params


Statement = tuple[str, dict[str, Any]]


def _fetch(
    conn: psycopg.Connection[Any], statement: Statement, ran: list[Statement] | None, *, prepare: bool | None = False
) -> list[dict[str, Any]]:
    if ran is not None:
        ran.append(statement)
    # prepare=False (the default here): never a generic plan, so day bounds exclude chunks /
    # partitions at plan time. prepare=None: psycopg prepares a statement run often (exact, plain).
    cur = conn.execute(*statement, prepare=prepare)
    fetched = cur.fetchall()
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in fetched]


def _newest(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest of ``rows`` (each event once), in the search's order."""
    unique = {(r["first_seen"], r["event_id"]): r for r in rows}
    return [unique[k] for k in sorted(unique, reverse=True)[:limit]]


def search_rows(
    conn: psycopg.Connection[Any],
    query: EventQuery,
    *,
    ran: list[Statement] | None = None,
    exact_via_dictionary: bool = True,
) -> tuple[list[dict[str, Any]], str]:
    """The rows of ``query`` (at most ``limit`` + 1, newest first) and how they were found:
    ``dictionary`` (candidates from the plate dictionary, then their days' reads, newest days
    first until ``limit`` + 1 rows are found), or ``direct`` (:func:`search_sql`: no plate, more
    candidates than :data:`DICTIONARY_MAX_CANDIDATES`, or an exact plate with
    ``exact_via_dictionary`` False: plain partitions, :func:`dictionary_for_exact`, a statement
    psycopg prepares once per connection). All give the same rows.

    Runs in the caller's transaction, which must carry the similarity threshold of fuzzy searches
    (:func:`run_search` sets it). In a pipeline the corrections and the dictionary lookup share
    one round trip. ``ran`` collects the statements that read plate_events (for EXPLAIN).
    """
    if query.normalised is None:
        return _fetch(conn, search_sql(query), ran), "direct"
    lookup = corrections_sql(query)
    corrections = conn.execute(*lookup) if lookup else None
    if query.match == "exact" and not exact_via_dictionary:
        row = corrections.fetchone() if corrections else None
        corrected = list(row[0]) if row and row[0] else []
        return _fetch(conn, search_sql(query, corrected), ran, prepare=None), "direct"
    plates = conn.execute(*dictionary_sql(query))
    row = corrections.fetchone() if corrections else None
    corrected = list(row[0]) if row and row[0] else []
    candidates = candidates_by_day(query, plates.fetchall())
    if candidates.overflow:
        return _fetch(conn, search_sql(query, corrected), ran), "direct"
    want = query.limit + 1
    rows: list[dict[str, Any]] = []
    if corrected:  # events found by a correction: the direct query's second branch, on its own
        where, params = _filters(query)
        params |= {"limit": want, "corrected": corrected, "plate": query.normalised, "d": query.max_distance}
        by_correction = (
            f"SELECT {_SELECT}, {_read_distance(query)} AS distance FROM plate_events e"
            f" WHERE {' AND '.join(['e.event_id = ANY(%(corrected)s)', *where])}{_ORDER}"
        )
        rows = _fetch(conn, (by_correction, params), ran)
    days, found, factor = list(candidates.by_day), 0, 1
    while days and found < want:
        batch, days = next_days(days, (want - found) * factor)
        fetched = _fetch(conn, fetch_sql(query, batch, want - found, candidates.cameras), ran)
        found += len(fetched)
        rows += fetched
        factor *= 4  # other filters left fewer rows than (plate, day) pairs: reach further
    return _newest(rows, want), "dictionary"


def next_days(
    days: Sequence[tuple[date, tuple[str, ...]]], rows: int
) -> tuple[list[tuple[date, tuple[str, ...]]], list[tuple[date, tuple[str, ...]]]]:
    """Split ``days`` (newest first) into the fewest first days holding ``rows`` (plate, day) pairs
    (at least one day), and the rest. Each pair is at least one read, so without other filters one
    fetch of those days finds the page."""
    pairs = 0
    for i, (_, plates) in enumerate(days):
        pairs += len(plates)
        if pairs >= rows:
            return list(days[: i + 1]), list(days[i + 1 :])
    return list(days), []


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
    exact_via_dictionary: bool | None = None,
) -> Page:
    """Run ``query`` on an autocommit ``conn`` in one transaction (:func:`search_rows`).

    ``exact_via_dictionary``: the storage path's choice for exact searches (:func:`dictionary_for_exact`;
    the API reads it once); None reads it from the database first (one more round trip).

    With ``audit_as``, an ``events.search`` audit row naming that actor is written in the same
    transaction, so no search goes unrecorded. ``durable_audit=False`` commits it without
    waiting for the WAL flush (``synchronous_commit = off`` for this transaction only): a
    server crash may lose the last fraction of a second of audit rows, each search saves an fsync.
    Statements are pipelined: the audit row, the threshold, the corrections and the dictionary
    lookup go in one round trip; each fetch of days is one more.
    """
    via_dictionary = _exact_way(conn, query, exact_via_dictionary)
    with conn.pipeline(), conn.transaction():
        if audit_as is not None:
            if not durable_audit:
                conn.execute("SELECT set_config('synchronous_commit', 'off', true)")
            conn.execute(
                "INSERT INTO audit_log (actor, action, details) VALUES (%s, 'events.search', %s)",
                (audit_as, Jsonb(query.to_audit())),
            )
        _set_threshold(conn, query)
        rows, _ = search_rows(conn, query, exact_via_dictionary=via_dictionary)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = Cursor(rows[-1]["first_seen"], rows[-1]["event_id"]).encode() if more and rows else None
    return Page(rows, cursor)


def _set_threshold(conn: psycopg.Connection[Any], query: EventQuery) -> None:
    """Transaction settings of a search: no JIT (a plan over many chunks is costed high enough to
    be compiled, which took seconds for a query that runs in milliseconds), no parallel workers
    for plate searches, and the trigram threshold of fuzzy and confusion searches
    (:func:`similarity_threshold`)."""
    if query.normalised is None:
        conn.execute("SELECT set_config('jit', 'off', true)")
    else:  # reads by exact plate, a few per day: workers cost more than they save
        conn.execute("SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)")
    if query.match in ("fuzzy", "confusion") and query.normalised is not None:
        conn.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
            (str(similarity_threshold(query)),),
        )


def explain_search(
    conn: psycopg.Connection[Any],
    query: EventQuery,
    *,
    analyze: bool = True,
    exact_via_dictionary: bool | None = None,
) -> list[Any]:
    """The JSON plan of ``query`` as :func:`run_search` runs it (``EXPLAIN (ANALYZE, FORMAT JSON)``;
    ``exact_via_dictionary`` as there). Plans are custom plans (the values are in the statement),
    where run_search may reuse a prepared statement's generic plan for an exact search.

    A dictionary search runs several statements: the plan is then one ``Dictionary Search`` node
    over the plans of the dictionary lookup and of each statement that read plate_events.
    """
    via_dictionary = _exact_way(conn, query, exact_via_dictionary)
    with conn.transaction():
        _set_threshold(conn, query)
        ran: list[Statement] = []
        _, how = search_rows(conn, query, ran=ran, exact_via_dictionary=via_dictionary)
        if how == "dictionary":
            ran.insert(0, dictionary_sql(query))
        plans = []
        for sql, params in ran:
            row = conn.execute(
                f"EXPLAIN ({'ANALYZE, ' if analyze else ''}FORMAT JSON) {sql}", params, prepare=False
            ).fetchone()
            if row is None:  # EXPLAIN always returns its plan
                raise RuntimeError("EXPLAIN returned no plan")
            plans.append(row[0][0])
    if how == "direct":
        return plans
    return [{"Plan": {"Node Type": "Dictionary Search", "Plans": [p["Plan"] for p in plans]}}]
