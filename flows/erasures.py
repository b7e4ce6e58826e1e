"""The flow learns of plate erasures: the ``erasures`` table, polled (one per process).

``alpr erase`` / ``POST /admin/erase`` delete a plate's rows and objects and add a row to
``erasures`` (the plate only as a digest). The running flow still holds the plate in its dedup
state (and in events still in flight); without this, the next sighting within the dedup window
merged into the erased event and wrote it back. :class:`ErasureWatch` reads every erasure at
start and the new ones every ``poll_s`` seconds (``flow.erasures_poll_s``), and hands out an
immutable :class:`~operators.erasure.ErasedPlates`; the dedup step drops the erased plates
from its state when the version changes, and drops events of an erased plate seen at or before
its erasure (in flight, or replayed after a restart). While the database is unreachable the
last known erasures stay in use.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import psycopg
from prometheus_client import Counter

from operators.erasure import ErasedPlates
from operators.text import one_line

log = logging.getLogger(__name__)

ERASED_DROPPED = Counter(
    "alpr_flow_erased_dropped", "Events and dedup entries dropped because their plate was erased.", ["where"]
)


class ErasureWatch:
    """The current :class:`ErasedPlates`, refreshed from ``erasures`` every ``poll_s`` seconds."""

    def __init__(self, url: str, *, poll_s: float = 5.0, secret: bytes | None = None, name: str = "alpr-erasures"):
        self.url = url
        self.poll_s = poll_s
        self.name = name
        self._secret = secret
        self._last_id = 0
        self._current = ErasedPlates(secret=secret)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> ErasedPlates:
        """The erasures known now (never blocks)."""
        return self._current

    def refresh(self) -> bool:
        """Read new erasures; True when there were some. Raises ``psycopg.Error``."""
        with psycopg.connect(self.url, connect_timeout=5, application_name=self.name) as conn:
            rows = conn.execute(
                "SELECT id, plate_digest, at FROM erasures WHERE id > %s ORDER BY id", (self._last_id,)
            ).fetchall()
        if not rows:
            return False
        at: dict[str, datetime] = dict(self._current.at)
        for row_id, digest, when in rows:
            at[digest] = max(when, at.get(digest, when))
            self._last_id = max(self._last_id, row_id)
        self._current = ErasedPlates(self._current.version + 1, at, self._secret)
        # A warning: rare, and an operator wants to see that the flow applied the erasure.
        log.warning("%s: %d erased plate(s) known (version %d)", self.name, len(at), self._current.version)
        return True

    def start(self) -> ErasureWatch:
        """Load now (best effort) and poll in a daemon thread."""
        if self._thread is None:
            self._poll_once()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll_s + 5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._poll_once()

    def _poll_once(self) -> None:
        try:
            self.refresh()
        except psycopg.Error as exc:
            log.warning(
                "%s: cannot read erasures (keeping version %d): %s", self.name, self._current.version, one_line(exc)
            )


_SHARED: dict[tuple[str, float], ErasureWatch] = {}
_SHARED_LOCK = threading.Lock()


def shared_watch(url: str, poll_s: float, secret: bytes | None) -> ErasureWatch:
    """One started watch per process and database, shared by the flow's workers."""
    with _SHARED_LOCK:
        watch = _SHARED.get((url, poll_s))
        if watch is None:
            watch = _SHARED[(url, poll_s)] = ErasureWatch(url, poll_s=poll_s, secret=secret).start()
        return watch


def close_shared() -> int:
    """Stop and forget every shared watch of this process; how many there were. A flow process
    keeps its watches for its life; a process that runs flows on several databases one after
    another (the tests) closes them in between, else each polls its database after it is gone."""
    with _SHARED_LOCK:
        watches = list(_SHARED.values())
        _SHARED.clear()
    for watch in watches:
        watch.close()
    return len(watches)
