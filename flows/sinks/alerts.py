"""The flow's alert sink: stores each watchlist hit in the outbox and wakes the delivery worker.

The delivery itself is :mod:`alerts` (outbox worker, channels, messages); this module is the
bytewax side: :class:`AlertSink` writes the hits (``alerts`` + ``alert_deliveries`` rows, one short
transaction on the dataflow thread) and shares one :class:`~alerts.outbox.AlertDispatcher` per
process and database between the workers' partitions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from alerts.outbox import AlertDispatcher
from alerts.routing import resolve_channels
from config.flow import AlertSettings
from flows.sinks.postgres import PostgresWriter
from operators.records import DeadLetter, DeadLetterFn, WatchlistHit

log = logging.getLogger(__name__)


class _SharedDispatchers:
    """One dispatcher per process and database, shared by the workers' sink partitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, AlertSettings], tuple[AlertDispatcher, int]] = {}

    def acquire(self, url: str, settings: AlertSettings, factory: Callable[[], AlertDispatcher]) -> AlertDispatcher:
        with self._lock:
            dispatcher, users = self._entries.get((url, settings), (None, 0))
            if dispatcher is None:
                dispatcher = factory().start()
            self._entries[(url, settings)] = (dispatcher, users + 1)
            return dispatcher

    def release(self, url: str, settings: AlertSettings) -> None:
        with self._lock:
            dispatcher, users = self._entries[(url, settings)]
            if users > 1:
                self._entries[(url, settings)] = (dispatcher, users - 1)
                return
            del self._entries[(url, settings)]
        dispatcher.close()


_DISPATCHERS = _SharedDispatchers()


class _AlertPartition(StatelessSinkPartition[WatchlistHit]):
    def __init__(self, sink: AlertSink, writer: PostgresWriter, dispatcher: AlertDispatcher) -> None:
        self._sink = sink
        self._writer = writer
        self._dispatcher = dispatcher

    def write_batch(self, items: list[WatchlistHit]) -> None:
        self._sink.store(self._writer, items)
        self._dispatcher.wake()

    def close(self) -> None:
        self._writer.close()
        _DISPATCHERS.release(self._sink.url, self._sink.settings)


class AlertSink(DynamicSink[WatchlistHit]):
    """``op.output`` sink for :class:`WatchlistHit` s: stores them, and a per-process dispatcher delivers."""

    def __init__(
        self,
        url: str,
        settings: AlertSettings,
        *,
        dead_letters: DeadLetterFn | None = None,
        alerts_topic: str = "alpr.alerts",
        presign: Callable[[str], str] | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self._dead_letters = dead_letters
        self._alerts_topic = alerts_topic
        self._presign = presign

    def dispatcher(self) -> AlertDispatcher:
        """A new, not started dispatcher for this sink's database and settings."""
        return AlertDispatcher(
            self.url,
            self.settings,
            dead_letters=self._dead_letters,
            alerts_topic=self._alerts_topic,
            presign=self._presign,
        )

    def store(self, writer: PostgresWriter, hits: Sequence[WatchlistHit]) -> None:
        """Store hits and delivery rows; dead-letter deliveries to channels that are not configured."""
        new = writer.write_alerts([resolve_channels(self.settings, h) for h in hits])
        for row in new:
            if row.status == "failed":
                log.error("alerts: alert %s names channel %s: %s", row.alert_id, row.channel, row.last_error)
                if self._dead_letters is not None:
                    self._dead_letters(
                        DeadLetter.of(
                            f"alert_delivery:{row.channel}",
                            row.last_error or "",
                            "UnknownAlertChannel",
                            datetime.now(UTC),
                            key=row.alert_id.encode(),
                            source_topic=self._alerts_topic,
                        )
                    )

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        writer = PostgresWriter(
            self.url, max_size=1, name=f"alpr-flow-{step_id}-{worker_index}", dead_letters=self._dead_letters
        )
        return _AlertPartition(self, writer, _DISPATCHERS.acquire(self.url, self.settings, self.dispatcher))
