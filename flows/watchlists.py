"""Watchlists from PostgreSQL, reloaded without a restart.

:class:`WatchlistStore` reads ``watchlists`` + ``watchlist_entries`` into the compiled index
of :mod:`operators.watchlist` and polls for changes every ``flow.watchlists.reload_s``
seconds. The change check is one cheap query: an md5 over the entry and list rows (so any
insert, update, delete or expiry is seen, whether or not the writer bumped ``updated_at``);
only when it differs are the entries read again and a new index built, then swapped in
atomically: matching threads see the old index or the new one, never a half-built one.
When the database is unreachable the last good index stays in use.

Entries that expired are not loaded (and an expiry changes the signature, so an entry stops
matching at the next poll). An entry the index cannot take (e.g. an invalid regex) is
skipped and reported in :attr:`WatchlistStore.skipped`, the rest still load.

The SQL is :mod:`db.watchlists` (shared with the API).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import psycopg

from db.watchlists import SIGNATURE_SQL, read_entries
from operators.records import WatchlistEntry

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - the index type


def _default_index(entries: Sequence[WatchlistEntry]) -> Any:
    from operators.watchlist import Watchlist

    return Watchlist(entries)


class WatchlistUnavailableError(RuntimeError):
    """The watchlists could not be loaded a first time."""


class WatchlistStore(Generic[I]):
    """The current watchlist index, reloaded from PostgreSQL when the tables change.

    ``index_factory`` builds the index from the entries (default: ``operators.watchlist.Watchlist``);
    ``first_load_timeout_s`` bounds the wait for the first load (None: wait until the database answers).
    """

    def __init__(
        self,
        url: str,
        *,
        reload_s: float = 5.0,
        index_factory: Callable[[Sequence[WatchlistEntry]], I] = _default_index,
        name: str = "alpr-watchlists",
        first_load_timeout_s: float | None = None,
    ) -> None:
        self.url = url
        self.reload_s = reload_s
        self.first_load_timeout_s = first_load_timeout_s
        self.name = name
        self._factory = index_factory
        self._lock = threading.Lock()  # one reload at a time; readers never take it
        self._conn: psycopg.Connection[Any] | None = None
        self._index: I | None = None
        self._signature: str | None = None
        self.entries: tuple[WatchlistEntry, ...] = ()
        self.skipped: tuple[tuple[int, str], ...] = ()
        self.version = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> I:
        """The index in use, loaded on first access.

        Until a first load succeeds this waits, retrying with backoff (the flow must not match
        plates against no watchlists while the database is down: alerts would be missed
        silently), and raises :class:`WatchlistUnavailableError` after ``first_load_timeout_s``.
        """
        index = self._index
        if index is None:
            index = self._first_load()
        return index

    def _first_load(self) -> I:
        deadline = None if self.first_load_timeout_s is None else time.monotonic() + self.first_load_timeout_s
        delay = 0.2
        while True:
            try:
                self.refresh()
            except psycopg.Error as exc:
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise WatchlistUnavailableError(
                        f"{self.name}: cannot load watchlists from the database: {exc}"
                    ) from exc
                log.error("%s: cannot load watchlists, retrying in %.1f s: %s", self.name, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            index = self._index
            if index is not None:
                return index

    def refresh(self) -> bool:
        """Reload when the tables changed; True when a new index was swapped in.

        Raises ``psycopg.Error`` when the database cannot be read (the old index stays).
        """
        with self._lock:
            conn = self._connection()
            try:
                row = conn.execute(SIGNATURE_SQL).fetchone()
                signature = row[0] if row else ""
                if signature == self._signature and self._index is not None:
                    return False
                entries, skipped = read_entries(conn)
            except psycopg.Error:
                self._drop_connection()
                raise
            index = self._factory(entries)
            # Swap: one attribute assignment each; readers take whichever index is current.
            self.entries = tuple(entries)
            self.skipped = tuple(skipped)
            self._index = index
            self._signature = signature
            self.version += 1
        for entry_id, reason in skipped:
            log.error("%s: entry %s skipped: %s", self.name, entry_id, reason)
        log.info("%s: loaded %d entries (version %d)", self.name, len(entries), self.version)
        return True

    # --- polling ------------------------------------------------------------------------
    def start(self) -> WatchlistStore[I]:
        """Load now (best effort) and poll in a daemon thread every ``reload_s`` seconds."""
        if self._thread is None:
            self._poll_once()
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name=f"{self.name}-reload", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop polling and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.reload_s + 5)
            self._thread = None
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> WatchlistStore[I]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _poll(self) -> None:
        while not self._stop.wait(self.reload_s):
            self._poll_once()

    def _poll_once(self) -> None:
        try:
            self.refresh()
        except psycopg.Error as exc:
            log.warning("%s: cannot reload watchlists (keeping version %d): %s", self.name, self.version, exc)
        except Exception:  # a bad index build must not kill the poller; the old index stays
            log.exception("%s: building the watchlist index failed (keeping version %d)", self.name, self.version)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, application_name=self.name)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


_SHARED: dict[tuple[str, float], WatchlistStore[Any]] = {}
_SHARED_LOCK = threading.Lock()


def shared_store(url: str, reload_s: float) -> WatchlistStore[Any]:
    """One started store per process and database, shared by the flow's workers."""
    with _SHARED_LOCK:
        store = _SHARED.get((url, reload_s))
        if store is None:
            store = _SHARED[(url, reload_s)] = WatchlistStore(url, reload_s=reload_s).start()
        return store


def close_shared() -> None:
    """Stop every shared store (tests; a flow process just exits)."""
    with _SHARED_LOCK:
        stores = list(_SHARED.values())
        _SHARED.clear()
    for store in stores:
        store.close()
