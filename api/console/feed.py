"""The live feed: events as they are stored, pushed to every open live page (server-sent events).

One thread per API process LISTENs on ``alpr_live`` (migration 0007 notifies once per statement
that stores events, alerts or corrections) and also looks every ``api.console.live_poll_s``
seconds. When woken it reads the events changed since its high-water mark (minus ``LAG_S``,
since a row's ``updated_at`` is its transaction's start and commits land out of order) and
hands each new *version* of an event to the subscribers' queues. A version is the event's
``changed_at``: the latest of its row update, its last alert and its last correction.

A page reconnecting (after a network drop or a server restart) sends the last ``id:`` it saw
(``Last-Event-ID``, or ``after=`` when it had to start a new connection): the stream first
replays what changed since then (minus the lag), so nothing is lost; rows it already has come
again with the same version and the page keeps one row per event, so nothing shows twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from api.search import EVENT_COLUMNS

log = logging.getLogger(__name__)

CHANNEL = "alpr_live"
LAG_S = 2.0  # re-read this far behind the high-water mark: late commits of earlier transactions
QUEUE_SIZE = 1000

_ENRICH = f"""
SELECT DISTINCT ON (e.event_id) {", ".join(f"e.{c}" for c in EVENT_COLUMNS)},
       c.plate AS corrected, c.actor AS corrected_by, h.watchlists, h.severity,
       GREATEST(e.updated_at, h.last_alert, c.at) AS changed_at
FROM plate_events e
JOIN changed USING (event_id)
LEFT JOIN LATERAL (
    SELECT plate, actor, at FROM plate_corrections pc WHERE pc.event_id = e.event_id
    ORDER BY at DESC, id DESC LIMIT 1) c ON true
LEFT JOIN LATERAL (
    SELECT string_agg(DISTINCT coalesce(w.name, '#' || a.watchlist_id), ', ') AS watchlists,
           (array_agg(a.severity ORDER BY a.created_at DESC))[1] AS severity,
           max(a.created_at) AS last_alert
    FROM alerts a LEFT JOIN watchlists w ON w.id = a.watchlist_id WHERE a.event_id = e.event_id) h ON true
WHERE (%(cameras)s::text[] IS NULL OR e.camera_id = ANY(%(cameras)s::text[]))
ORDER BY e.event_id, e.updated_at DESC
"""

_CHANGED_SINCE = (
    """
WITH changed AS (
    SELECT event_id FROM plate_events
     WHERE updated_at > %(since)s AND first_seen > %(since)s::timestamptz - interval '2 days'
    UNION SELECT event_id FROM alerts WHERE created_at > %(since)s
    UNION SELECT event_id FROM plate_corrections WHERE at > %(since)s)
"""
    + _ENRICH
    + " LIMIT %(limit)s"
)

_LATEST = (
    """
WITH changed AS (
    SELECT event_id FROM plate_events
     WHERE (%(cameras)s::text[] IS NULL OR camera_id = ANY(%(cameras)s::text[]))
     ORDER BY updated_at DESC LIMIT %(limit)s)
"""
    + _ENRICH
)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event as the live page shows it, at one version (``changed_at``)."""

    row: dict[str, Any]

    @property
    def event_id(self) -> uuid.UUID:
        """The event's id."""
        return self.row["event_id"]

    @property
    def changed_at(self) -> datetime:
        """Its version: the latest of its update, last alert and last correction."""
        return self.row["changed_at"]

    @property
    def camera_id(self) -> str:
        """The camera that saw it."""
        return self.row["camera_id"]

    @property
    def cursor(self) -> str:
        """The SSE ``id:`` of this version (a reconnecting page resumes after it)."""
        return f"{self.changed_at.isoformat()}|{self.event_id}"


def parse_cursor(text: str | None) -> datetime | None:
    """The time of an SSE id made by :attr:`LiveEvent.cursor`; None when absent or malformed."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.split("|", 1)[0])
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _rows(cur: psycopg.Cursor[Any]) -> list[LiveEvent]:
    names = [d.name for d in cur.description or ()]
    events = [LiveEvent(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    return sorted(events, key=lambda e: (e.changed_at, str(e.event_id)))


def changed_since(
    conn: psycopg.Connection[Any], since: datetime, *, cameras: Iterable[str] = (), limit: int = 500
) -> list[LiveEvent]:
    """Events changed after ``since`` (rows, alerts, corrections), oldest change first."""
    cams = list(cameras) or None
    return _rows(conn.execute(_CHANGED_SINCE, {"since": since, "cameras": cams, "limit": limit}))


def latest(conn: psycopg.Connection[Any], *, cameras: Iterable[str] = (), limit: int = 50) -> list[LiveEvent]:
    """The ``limit`` most recently stored events, oldest change first."""
    cams = list(cameras) or None
    return _rows(conn.execute(_LATEST, {"cameras": cams, "limit": limit}))


class Subscription:
    """One live page's queue of :class:`LiveEvent` s (filled from the feed's thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def offer(self, events: list[LiveEvent]) -> None:
        """Queue ``events`` (called on the event loop); on overflow the page must resume by cursor."""
        for event in events:
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.overflowed = True
                return


class LiveFeed:
    """The process's listener thread and its subscribers (see the module doc)."""

    def __init__(self, url: str, poll_s: float) -> None:
        self._url = url
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._high: datetime | None = None
        self._seen: dict[uuid.UUID, datetime] = {}
        self.closed = False

    def subscribe(self) -> Subscription:
        """A new subscription on the running event loop (starts the thread on first use)."""
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
            if self._thread is None and not self.closed:
                self._thread = threading.Thread(target=self._run, name="alpr-console-live", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop filling ``sub``."""
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """Stop the thread; open streams see :attr:`closed` and end."""
        self.closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=5, application_name="alpr-console-live"
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 0.5
                    self._listen(conn)
            except psycopg.Error as exc:
                log.warning("console live feed: %s; retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        if self._high is None:
            self._high = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        self._scan(conn)
        while not self._stop.is_set():
            woken = any(True for _ in conn.notifies(timeout=self._poll_s, stop_after=1))
            self._scan(conn)
            if woken:
                self._stop.wait(0.05)  # coalesce bursts: at most ~20 scans a second

    def _scan(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        assert self._high is not None
        since = self._high - timedelta(seconds=LAG_S)
        if not subscribers:
            # Nobody watches: move the mark on so a later page is not flooded with history.
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            self._high = max(self._high, now - timedelta(seconds=LAG_S))
            self._seen.clear()
            return
        fresh = []
        for event in changed_since(conn, since):
            if self._seen.get(event.event_id) != event.changed_at:
                self._seen[event.event_id] = event.changed_at
                fresh.append(event)
            self._high = max(self._high, event.changed_at)
        cutoff = self._high - timedelta(seconds=LAG_S * 2)
        self._seen = {k: v for k, v in self._seen.items() if v >= cutoff}
        if fresh:
            for sub in subscribers:
                sub.loop.call_soon_threadsafe(sub.offer, fresh)
