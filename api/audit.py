"""The audit trail: who did what through the API or the CLI (``audit_log``).

:func:`record` writes a row in the caller's transaction; :class:`AuditWriter` queues the API's
search rows and writes them in batches (see its docstring for the crash window).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)


def record(conn: psycopg.Connection[Any], actor: str, action: str, details: dict[str, Any]) -> None:
    """Append one audit row (in the caller's transaction, if any)."""
    conn.execute("INSERT INTO audit_log (actor, action, details) VALUES (%s, %s, %s)", (actor, action, Jsonb(details)))


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


class AuditBacklogError(RuntimeError):
    """The audit queue is full (the database has not taken rows for a while): the API answers 503."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row, as queued: when it happened, who did it, what, with which parameters."""

    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class AuditWriter:
    """Writes audit rows in batches from one background thread, so a request never waits for them.

    :meth:`add` queues a row (no I/O); the thread writes what is queued every ``flush_s`` seconds,
    or as soon as ``batch_rows`` are waiting, with one COPY in one transaction (durable commit).
    A row leaves the queue only once its transaction committed; a failed write is retried.

    - Clean shutdown (:meth:`close`, the app's lifespan end) writes every queued row.
    - Crash window: a process killed without shutdown loses the rows queued and not yet committed:
      the last ``flush_s`` seconds of actions (plus one write in flight) while the database is up.
    - Bounded: at ``max_rows`` queued (the database refused rows for a while) :meth:`add` raises
      :class:`AuditBacklogError`, and the API answers 503 instead of serving an unaudited request.
    """

    def __init__(
        self,
        connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
        *,
        flush_s: float,
        batch_rows: int = 1000,
        max_rows: int = 10_000,
        retry_s: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connection = connection
        self._flush_s = flush_s
        self._batch_rows = batch_rows
        self._max_rows = max_rows
        self._retry_s = retry_s
        self._now = now
        self._rows: list[AuditEntry] = []
        self._added = 0  # rows ever queued
        self._written = 0  # rows ever committed
        self._urgent = 0  # write now, without waiting flush_s, until this many are written
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> AuditWriter:
        """Start the writing thread."""
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        return self

    def add(self, actor: str, action: str, details: dict[str, Any]) -> None:
        """Queue one row stamped now; :class:`AuditBacklogError` when ``max_rows`` are waiting."""
        entry = AuditEntry(self._now(), actor, action, details)
        with self._cond:
            if len(self._rows) >= self._max_rows:
                raise AuditBacklogError(f"audit queue full ({self._max_rows} rows not yet written)")
            self._rows.append(entry)
            self._added += 1
            if len(self._rows) == 1 or len(self._rows) >= self._batch_rows:
                self._cond.notify_all()  # the first row starts the flush_s wait; a full batch ends it

    def pending(self) -> int:
        """Rows queued and not yet written."""
        with self._cond:
            return len(self._rows)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Write every row queued so far now; True once they are committed (False after ``timeout_s``)."""
        with self._cond:
            target = self._added
            self._urgent = max(self._urgent, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._written >= target, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> int:
        """Write every queued row and stop; the number of rows that could not be written (logged)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
        lost = self.pending()
        if lost:
            log.error("audit: %d row(s) could not be written before shutdown", lost)
        return lost

    def _run(self) -> None:
        while True:
            with self._cond:
                # Wait for a row, then up to flush_s for more (a batch), unless told to hurry.
                self._cond.wait_for(lambda: self._rows or self._stopping)
                if not self._rows:
                    return  # stopping, nothing left
                self._cond.wait_for(
                    lambda: self._stopping or len(self._rows) >= self._batch_rows or self._urgent > self._written,
                    timeout=self._flush_s,
                )
                batch = self._rows[: self._batch_rows]
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any failure; rows stay queued
                log.warning("audit: writing %d row(s) failed, retrying: %s", len(batch), exc)
                with self._cond:
                    if self._stopping:
                        return  # close() reports what is left
                    self._cond.wait(timeout=self._retry_s)
                continue
            with self._cond:
                del self._rows[: len(batch)]
                self._written += len(batch)
                self._cond.notify_all()

    def _write(self, batch: list[AuditEntry]) -> None:
        with self._connection() as conn, conn.transaction():
            with conn.cursor().copy("COPY audit_log (at, actor, action, details) FROM STDIN") as copy:
                for entry in batch:
                    copy.write_row((entry.at, entry.actor, entry.action, Jsonb(entry.details)))
