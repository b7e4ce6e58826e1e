"""Publish plate crops and track events to Kafka: Avro (Confluent wire format), key = camera id.

Every message goes through the :class:`~edge.spool.Spool` (the outbox) and a sender thread moves
it to an idempotent confluent-kafka producer (``acks=all``, lz4/zstd), committing it in the spool
only when the delivery callback confirms it. When deliveries fail (broker unreachable past
``message_timeout_s``) the sender waits for the in-flight messages to settle, rewinds to the first
unacknowledged message and resends from there with backoff: nothing is lost up to the spool size
and order is kept. Beyond the spool size new messages are dropped, counted and logged. A producer
that goes two resend rounds in a row without delivering anything is replaced by a new one:
librdkafka can loop forever on its own stale idempotence state (see :meth:`Publisher._run`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from config.kafka import client_config, registry_config
from config.settings import Settings
from edge.records import PlateCrop, TrackEvent
from edge.spool import Position, Spool
from schemas.serde import AvroEncoder, RegistryUnavailableError, SerdeError

log = logging.getLogger(__name__)

__all__ = ["PublishCounters", "Publisher", "PublisherError"]

# Consecutive failed resend rounds, none of which committed anything, after which the producer is
# replaced. Not 1: a new producer spends its first round connecting and getting a producer id,
# which on a loaded machine can outlast ``message_timeout_s``; replacing it then would start over.
_STALL_ROUNDS = 2


class PublisherError(RuntimeError):
    """The publisher could not start (schema registry unreachable, bad producer settings)."""


@dataclass(slots=True)
class PublishCounters:
    """Running totals of the publisher (read by the status line and tests)."""

    queued: int = 0
    delivered: int = 0
    delivery_errors: int = 0
    dropped: int = 0
    encode_errors: int = 0


@dataclass(slots=True)
class _InFlight:
    end: Position
    done: bool = False
    ok: bool = False


class Publisher:
    """Spool-backed Kafka publisher for one edge process (all cameras share it)."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_delivered: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._topics = settings.kafka.topics
        registry = SchemaRegistryClient(registry_config(settings.kafka))
        self._encoders = {
            "crop": AvroEncoder(registry, "plate_crop", self._topics.crops),
            "track": AvroEncoder(registry, "track_event", self._topics.detections),
        }
        self.spool = Spool(settings.edge.spool.dir, settings.edge.spool.max_bytes, settings.edge.spool.segment_bytes)
        self._producer = self._new_producer()
        self.counters = PublishCounters()
        self._on_delivered = on_delivered or (lambda _t: None)
        self._on_error = on_error or (lambda _t: None)
        self._on_dropped = on_dropped or (lambda _t: None)
        self._inflight: deque[_InFlight] = deque()
        self._failed = False
        self._fatal = False
        self._stalled_rounds = 0
        self._stop = threading.Event()
        self._drain_deadline: float | None = None
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)
        self._last_drop_log = 0.0

    def _new_producer(self) -> Producer:
        settings = self._settings
        pub = settings.edge.publish
        return Producer(
            client_config(
                settings.kafka,
                **{
                    "client.id": f"alpr-edge-{settings.site}",
                    "enable.idempotence": True,
                    "acks": "all",
                    "compression.type": settings.kafka.compression,
                    "linger.ms": pub.linger_ms,
                    "message.timeout.ms": int(pub.message_timeout_s * 1000),
                    "reconnect.backoff.max.ms": 2000,
                    "socket.connection.setup.timeout.ms": 5000,
                    "log_level": 3,
                    "logger": logging.getLogger("edge.publish.librdkafka"),
                    "error_cb": self._on_client_error,
                },
            )
        )

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            # e.g. the broker forgot our producer id (restarted without state): only a new producer helps.
            log.error("publisher: fatal producer error, recreating the producer: %s", err)
            self._fatal = True
        else:
            log.debug("publisher: client error %s", err)

    def _poll(self, timeout: float) -> None:
        try:
            self._producer.poll(timeout)
        except KafkaException as exc:
            log.error("publisher: producer failed: %s", exc)
            self._fatal = True

    def _replace_producer(self) -> None:
        old = self._producer
        try:
            old.purge()
            old.poll(0)
        except KafkaException:
            pass
        for entry in self._inflight:
            entry.done = True
        self._producer = self._new_producer()
        self._fatal = False
        self._stalled_rounds = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Register both schemas (waiting up to ``registry_timeout_s``) and start the sender thread."""
        deadline = time.monotonic() + self._settings.edge.publish.registry_timeout_s
        delay = 0.5
        for name, encoder in self._encoders.items():
            while True:
                try:
                    encoder.register()
                    break
                except RegistryUnavailableError as exc:
                    if time.monotonic() + delay > deadline:
                        raise PublisherError(f"publisher: schema registry unavailable: {exc.reason}") from exc
                    log.warning("publisher: registry not ready for %s (%s); retrying", name, exc.reason)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                except SerdeError as exc:
                    raise PublisherError(f"publisher: registry refused the {name} schema: {exc.reason}") from exc
        self._thread.start()

    def close(self, timeout_s: float | None = None) -> bool:
        """Deliver what is spooled (up to ``timeout_s``, default ``flush_timeout_s``), then stop.

        Returns True when the spool was fully delivered; undelivered messages stay on disk and are
        sent by the next run.
        """
        timeout = self._settings.edge.publish.flush_timeout_s if timeout_s is None else timeout_s
        self._drain_deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 5)
        remaining = self._producer.flush(1.0)
        self.spool.close()
        drained = self.spool.depth == 0 and remaining == 0
        if not drained:
            log.warning("publisher: %s messages left in the spool for the next run", self.spool.depth)
        return drained

    # -- producing -----------------------------------------------------------------------------

    def publish_crop(self, crop: PlateCrop) -> bool:
        """Queue one crop; False when it was dropped (spool full or not encodable)."""
        return self._queue("crop", self._topics.crops, crop.camera_id, crop.to_avro())

    def publish_track_event(self, event: TrackEvent) -> bool:
        """Queue one track start/end; False when it was dropped."""
        return self._queue("track", self._topics.detections, event.camera_id, event.to_avro())

    def _queue(self, kind: str, topic: str, key: str, record: dict[str, Any]) -> bool:
        try:
            value = self._encoders[kind].encode(record)
        except SerdeError as exc:
            self.counters.encode_errors += 1
            self._on_error(topic)
            log.error("publisher: cannot encode %s for %s: %s", kind, key, exc.reason)
            return False
        if not self.spool.append(topic, key.encode(), value):
            self.counters.dropped += 1
            self._on_dropped(topic)
            now = time.monotonic()
            if now - self._last_drop_log > 5.0:
                self._last_drop_log = now
                log.warning(
                    "publisher: spool full (%s bytes), dropped %s messages so far",
                    self.spool.max_bytes,
                    self.counters.dropped,
                )
            return False
        self.counters.queued += 1
        self._wake.set()
        return True

    # -- sender thread -------------------------------------------------------------------------

    def _run(self) -> None:
        pub = self._settings.edge.publish
        backoff = 0.5
        while True:
            if self._stop.is_set():
                deadline = self._drain_deadline or 0.0
                if (self.spool.depth == 0 and not self._inflight) or time.monotonic() > deadline:
                    return
            if self._fatal:
                self._failed = True
                self._commit_done()
                self._replace_producer()
            if self._failed:
                self._poll(0.1)
                self._commit_done()
                if any(not m.done for m in self._inflight) and not self._fatal:
                    continue  # wait until every in-flight message has an outcome
                self._inflight.clear()
                self.spool.rewind()
                self._failed = False
                self._stalled_rounds += 1
                if self._stalled_rounds >= _STALL_ROUNDS:
                    # A message that times out once its partition has a leader (in flight, or still
                    # queued when the returning broker's metadata arrives) makes librdkafka bump its
                    # producer epoch and restart the sequence at 0. A broker that lost its producer
                    # state (restarted without it, like Tansu's memory storage) answers
                    # UNKNOWN_PRODUCER_ID; at sequence 0 librdkafka takes that as safe to retry, bumps
                    # the epoch again and retries without end, logging only at debug level, while
                    # every message times out. Only a new producer (a new producer id) gets out.
                    log.warning(
                        "publisher: %s resend rounds without a delivery; recreating the producer",
                        self._stalled_rounds,
                    )
                    self._replace_producer()
                log.warning(
                    "publisher: delivery failed; resending %s spooled messages in %.1fs",
                    self.spool.depth,
                    backoff,
                )
                if self._stop.is_set():
                    time.sleep(min(backoff, 0.5))  # draining on exit: keep trying until the deadline
                else:
                    self._stop.wait(backoff)
                backoff = min(backoff * 2, pub.retry_max_s)
                continue
            sent = 0
            while len(self._inflight) < pub.max_in_flight and not self._failed:
                record = self.spool.read_next()
                if record is None:
                    break
                entry = _InFlight(record.end)
                self._inflight.append(entry)
                if not self._produce(record.topic, record.key, record.value, entry):
                    entry.done = True  # not sent: replayed after the rewind
                    self._failed = True
                    break
                sent += 1
            self._poll(0 if sent else 0.05)
            if self._commit_done():
                backoff = 0.5
            if not sent and not self._inflight:
                self._wake.wait(0.05)
                self._wake.clear()

    def _produce(self, topic: str, key: bytes, value: bytes, entry: _InFlight) -> bool:
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._callback(entry, topic))
                return True
            except BufferError:
                self._poll(0.1)  # librdkafka's local queue is full: let it drain
            except KafkaException as exc:
                log.error("publisher: produce to %s failed: %s", topic, exc)
                return False

    def _callback(self, entry: _InFlight, topic: str) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, _msg: Any) -> None:
            entry.done = True
            entry.ok = err is None
            if err is None:
                self.counters.delivered += 1
                self._on_delivered(topic)
            else:
                self.counters.delivery_errors += 1
                self._on_error(topic)
                if not self._failed:
                    log.warning("publisher: delivery to %s failed: %s", topic, err)
                self._failed = True

        return on_delivery

    def _commit_done(self) -> bool:
        """Commit the delivered prefix of the in-flight queue; True when something was committed."""
        count = 0
        end: Position | None = None
        while self._inflight and self._inflight[0].ok:
            end = self._inflight.popleft().end
            count += 1
        if end is not None:
            self.spool.commit(end, count)
            self._stalled_rounds = 0
            return True
        return False
