"""PostgreSQL sink: plate events, rejected reads and alert rows, batched and idempotent.

Every batch is one transaction; the SQL is :mod:`db.events` and :mod:`db.alerts`. Plate events
(the volume) are binary-COPied into a temporary staging table and merged with one
``INSERT ... SELECT ... ON CONFLICT``; rejected reads and alerts (few) are one
``INSERT ... SELECT FROM unnest(<column arrays>)`` statement per table:

- ``plate_events``: upsert on ``(event_id, first_seen)``. Event ids are deterministic, so a
  replayed event lands on its own row; an update of an event (dedup merge, provisional ->
  final) replaces the stored one only when it is not older (more sightings, final over
  provisional, later ``last_seen``), and an identical replay changes nothing.
- ``rejected_reads``: has no natural key in the schema, so a read is inserted only when no
  row with the same camera, frame time, track, raw text and reason exists (under a
  transaction-level advisory lock, so concurrent workers cannot both insert it).
- ``alerts`` + ``alert_deliveries``: insert-or-ignore on ``alert_id`` and
  ``(alert_id, channel)``; the alert's event is upserted first in the same transaction, so
  the delivery worker always finds it (with its crop URL).

Failures never drop a batch silently: outages (:func:`is_outage`: no answer from the server,
connection and resource errors, shutdowns, deadlocks) are retried with exponential backoff
until the database answers (the flow waits, which is back-pressure, not loss); any other
error is the rows' own (bad data, a value too large for an index, ...): the batch is split
until the bad rows are isolated, and those go to the dead-letter callback (or raise
:class:`SinkError` when there is none), counted in ``alpr_flow_db_refused_rows_total`` and
logged. An error the server answers that is classed as transient but comes back the same
:data:`SAME_ERROR_LIMIT` times in a row is treated as the rows' own too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from prometheus_client import Counter
from psycopg_pool import ConnectionPool, PoolTimeout

from db.alerts import AlertRecord, NewDelivery, insert_alerts
from db.events import insert_rejected, rejected_row, upsert_events
from operators.records import DeadLetter, DeadLetterFn, PlateEvent, RejectedRead
from operators.text import one_line, shorten

log = logging.getLogger(__name__)

DB_ROWS = Counter("alpr_flow_db_rows", "Rows inserted or changed by the PostgreSQL sinks.", ["table"])
DB_RETRIES = Counter("alpr_flow_db_retries", "Failed database attempts that were retried.", ["sink"])
DB_REFUSED = Counter("alpr_flow_db_refused_rows", "Rows the database refused (dead-lettered).", ["table"])
for _table in ("plate_events", "rejected_reads", "alerts"):  # series exist at 0 from the start
    DB_ROWS.labels(_table)
    DB_REFUSED.labels(_table)

T = TypeVar("T")

#: SQLSTATE classes of outages: connection (08), resources (53), operator intervention (57:
#: shutdowns, cancels), system errors (58); and the transient ones of 40 (deadlock, serialization)
#: and 55P03 (lock not available). Any other SQLSTATE is the rows' own error.
_OUTAGE_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_STATES = ("40001", "40P01", "55P03")
#: A transient error the server answers identically this many times in a row is the rows' own.
SAME_ERROR_LIMIT = 5


class RowError(Exception):
    """The rows of a write failed on themselves (wraps the database's error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def is_outage(exc: BaseException) -> bool:
    """True for errors of an unavailable database (retry); False for errors of the rows."""
    if isinstance(exc, PoolTimeout | psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:  # no answer from the server: the connection failed
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in _OUTAGE_CLASSES or state in _TRANSIENT_STATES


class SinkError(RuntimeError):
    """A batch could not be written and there is no dead-letter callback to hand it to."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff of a batch while the database is unreachable; ``give_up_s=None``: never give up."""

    initial_s: float = 0.2
    max_s: float = 10.0
    give_up_s: float | None = None


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json_bytes(obj: dict[str, Any]) -> bytes:
    """Compact, key-sorted JSON (datetimes as ISO 8601) for dead letters."""
    return json.dumps(obj, default=_json_default, sort_keys=True, separators=(",", ":")).encode()


# --- the writer -------------------------------------------------------------------------


class PostgresWriter:
    """Batched, idempotent writes through a small connection pool, with retry and isolation.

    ``dead_letters`` receives the rows the database refuses (bad data); without it such a
    row raises :class:`SinkError`. ``sleep`` is injected so tests need not wait.
    """

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 2,
        name: str = "alpr-flow-sink",
        dead_letters: DeadLetterFn | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        DB_RETRIES.labels(name)  # at 0 until a retry
        self._dead_letters = dead_letters
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            name=name,
            open=False,
            timeout=connect_timeout_s,
            check=ConnectionPool.check_connection,
            # The pool's own reconnect backoff doubles without bound (a 40 s outage cost 23 s
            # more before it tried again); give up early and let the next checkout start afresh.
            reconnect_timeout=5.0,
            kwargs={"application_name": name, "connect_timeout": max(1, round(connect_timeout_s))},
        )
        # Do not wait: the database may be down at start; writes wait and retry instead.
        self._pool.open(wait=False)

    def close(self) -> None:
        """Close the pool (idempotent)."""
        self._pool.close()

    def __enter__(self) -> PostgresWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public writes ------------------------------------------------------------------
    def write_events(self, events: Sequence[PlateEvent]) -> int:
        """Upsert plate events; returns the rows inserted or changed."""
        return self._write("plate_events", upsert_events, list(events), _event_dead_letter)

    def write_rejected(self, reads: Sequence[RejectedRead]) -> int:
        """Insert rejected reads (each once); returns the rows inserted."""
        return self._write("rejected_reads", insert_rejected, list(reads), _rejected_dead_letter)

    def write_alerts(self, records: Sequence[AlertRecord]) -> list[NewDelivery]:
        """Store alerts and their delivery rows; returns the delivery rows this call created."""
        out: list[NewDelivery] = []

        def write(conn: psycopg.Connection[Any], batch: list[AlertRecord]) -> int:
            new = insert_alerts(conn, batch)
            out.extend(new)
            return len(new)

        self._write("alerts", write, list(records), _alert_dead_letter)
        return out

    def run(self, what: str, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``fn(conn)`` in one transaction, retrying while the database is unreachable."""
        return self._retrying(what, lambda: self._in_transaction(fn))

    # --- internals ----------------------------------------------------------------------
    def _in_transaction(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._pool.connection() as conn:  # commits on success, rolls back on error
            return fn(conn)

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        delay = self._retry.initial_s
        started = time.monotonic()
        failures = 0
        last: tuple[str | None, str] | None = None
        repeats = 0
        while True:
            try:
                result = attempt()
            except (psycopg.Error, PoolTimeout) as exc:
                if not is_outage(exc):
                    raise RowError(exc) from exc
                state = getattr(exc, "sqlstate", None)
                same = (state, str(exc))
                repeats = repeats + 1 if same == last else 1
                last = same
                if state is not None and state[:2] not in _OUTAGE_CLASSES and repeats >= SAME_ERROR_LIMIT:
                    raise RowError(exc) from exc  # the server answers, the same way: not an outage
                failures += 1
                DB_RETRIES.labels(self.name).inc()
                waited = time.monotonic() - started
                if self._retry.give_up_s is not None and waited >= self._retry.give_up_s:
                    raise SinkError(
                        f"{self.name}: {what}: database unavailable for {waited:.0f} s, giving up: {exc}"
                    ) from exc
                log.error(
                    "%s: %s failed (attempt %d, %s), retrying in %.1f s: %s",
                    self.name,
                    what,
                    failures,
                    type(exc).__name__,
                    delay,
                    one_line(exc),
                )
                self._sleep(delay)
                delay = min(delay * 2, self._retry.max_s)
            else:
                if failures:
                    log.warning("%s: %s succeeded after %d failed attempts", self.name, what, failures)
                return result

    def _write(
        self,
        table: str,
        fn: Callable[[psycopg.Connection[Any], list[T]], int],
        items: list[T],
        to_dead_letter: Callable[[T, Exception, str], DeadLetter],
    ) -> int:
        if not items:
            return 0
        what = f"writing {len(items)} rows to {table}"
        try:
            written = self._retrying(what, lambda: self._in_transaction(lambda conn: fn(conn, items)))
        except RowError as row_error:
            exc = row_error.error
            if len(items) == 1:
                return self._reject(table, items[0], exc, to_dead_letter)
            log.warning("%s: %s: %s; isolating the bad rows", self.name, what, one_line(exc))
            mid = len(items) // 2
            return self._write(table, fn, items[:mid], to_dead_letter) + self._write(
                table, fn, items[mid:], to_dead_letter
            )
        DB_ROWS.labels(table).inc(written)
        return written

    def _reject(
        self, table: str, item: T, exc: Exception, to_dead_letter: Callable[[T, Exception, str], DeadLetter]
    ) -> int:
        step = f"postgres:{table}"
        if self._dead_letters is None:
            raise SinkError(f"{self.name}: {table} refused a row ({type(exc).__name__}: {exc}): {item!r}") from exc
        log.error(
            "%s: %s refused a row (%s), gave up on it and sent it to the dead-letter topic: %s",
            self.name, table, type(exc).__name__, one_line(exc),
        )  # fmt: skip
        DB_REFUSED.labels(table).inc()
        self._dead_letters(to_dead_letter(item, exc, step))
        return 0


def _dead_letter(key: str, value: dict[str, Any], exc: Exception, step: str) -> DeadLetter:
    return DeadLetter.of(
        step,
        shorten(str(exc).strip() or type(exc).__name__, 2000),
        type(exc).__name__,
        datetime.now(UTC),
        key=key.encode(),
        value=to_json_bytes(value),
    )


def _event_dead_letter(event: PlateEvent, exc: Exception, step: str) -> DeadLetter:
    return _dead_letter(event.event_id, event.to_avro(), exc, step)


def _rejected_dead_letter(read: RejectedRead, exc: Exception, step: str) -> DeadLetter:
    return _dead_letter(f"{read.read.camera_id}:{read.read.track_id}", rejected_row(read), exc, step)


def _alert_dead_letter(rec: AlertRecord, exc: Exception, step: str) -> DeadLetter:
    return _dead_letter(rec.hit.alert_id, rec.hit.to_avro(), exc, step)


# --- Bytewax sinks ----------------------------------------------------------------------


class _EventPartition(StatelessSinkPartition[PlateEvent]):
    def __init__(self, writer: PostgresWriter) -> None:
        self._writer = writer

    def write_batch(self, items: list[PlateEvent]) -> None:
        self._writer.write_events(items)

    def close(self) -> None:
        self._writer.close()


class _RejectedPartition(StatelessSinkPartition[RejectedRead]):
    def __init__(self, writer: PostgresWriter) -> None:
        self._writer = writer

    def write_batch(self, items: list[RejectedRead]) -> None:
        self._writer.write_rejected(items)

    def close(self) -> None:
        self._writer.close()


class PlateEventSink(DynamicSink[PlateEvent]):
    """``op.output`` sink upserting :class:`PlateEvent` s into ``plate_events`` (one pool per worker)."""

    def __init__(self, url: str, *, dead_letters: DeadLetterFn | None = None, pool_size: int = 2) -> None:
        self._url = url
        self._dead_letters = dead_letters
        self._pool_size = pool_size

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _EventPartition:
        name = f"alpr-flow-{step_id}-{worker_index}"
        return _EventPartition(
            PostgresWriter(self._url, max_size=self._pool_size, name=name, dead_letters=self._dead_letters)
        )


class RejectedReadSink(DynamicSink[RejectedRead]):
    """``op.output`` sink inserting :class:`RejectedRead` s into ``rejected_reads`` (each once)."""

    def __init__(self, url: str, *, dead_letters: DeadLetterFn | None = None) -> None:
        self._url = url
        self._dead_letters = dead_letters

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RejectedPartition:
        name = f"alpr-flow-{step_id}-{worker_index}"
        return _RejectedPartition(PostgresWriter(self._url, max_size=1, name=name, dead_letters=self._dead_letters))
