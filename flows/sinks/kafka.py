"""Kafka outputs of the flow: plate events, watchlist alerts and dead letters, as Avro.

:class:`AvroKafkaSink` is a bytewax ``DynamicSink``: each worker builds its own producer and
Avro encoder when the dataflow starts (nothing connects at import time). A batch is
flushed before ``write_batch`` returns, and messages the broker did not acknowledge are
produced again; a batch that still fails raises, so bytewax stops and, with recovery,
replays it on restart (at-least-once). A message the broker refuses for itself (too large,
invalid) is dead-lettered and the batch goes on: only outages stop the flow.

Plate events and alerts are keyed by their id (``event_id``, ``alert_id``) and carry two
headers, ``alpr-id`` and ``alpr-dedup-key``: a consumer drops a message whose dedup key it
has seen (a replay after a restart), while an update of an event has a new one (see
docs/flow.md, "Consuming the outputs once").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, KafkaException, Producer
from prometheus_client import Counter

from config.kafka import client_config
from config.settings import Settings
from operators.records import DeadLetter, DeadLetterFn, PlateEvent, WatchlistHit, to_millis
from schemas.serde import AvroEncoder, EncodeError

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Header holding the record's id (``event_id`` of a plate event, ``alert_id`` of an alert).
ID_HEADER = "alpr-id"
#: Header a consumer de-duplicates on: equal for a replayed copy, different for an update.
DEDUP_HEADER = "alpr-dedup-key"


class KafkaOutputError(RuntimeError):
    """Messages could not be delivered to Kafka after retries."""


def _key_bytes(key: str | None) -> bytes | None:
    return None if key is None else key.encode()


Headers = list[tuple[str, bytes]]

#: Broker or client errors that belong to one message: producing it again cannot help.
_REFUSED_CODES = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError._INVALID_ARG,
    }
)

REFUSED = Counter(
    "alpr_flow_kafka_refused_messages",
    "Output messages the broker refused for themselves (dead-lettered, or logged when dead letters).",
    ["topic"],
)


class _AvroPartition(StatelessSinkPartition[T], Generic[T]):
    def __init__(
        self,
        producer: Producer,
        encoder: AvroEncoder,
        topic: str,
        key: Callable[[T], str | None],
        value: Callable[[T], dict[str, Any]],
        attempts: int,
        flush_timeout_s: float,
        dead_letters: DeadLetterFn | None,
        headers: Callable[[T], Headers] | None = None,
    ) -> None:
        self._dead_letters = dead_letters
        self._producer = producer
        self._encoder = encoder
        self._topic = topic
        self._key = key
        self._value = value
        self._headers = headers
        self._attempts = attempts
        self._flush_timeout_s = flush_timeout_s

    def write_batch(self, items: list[T]) -> None:
        pending: list[tuple[T, bytes | None, bytes, Headers | None]] = []
        for item in items:
            key = _key_bytes(self._key(item))
            try:
                value = self._encoder.encode(self._value(item))
            except EncodeError as exc:
                self._refused(key, repr(item).encode(), exc.reason, type(exc).__name__)
                continue
            pending.append((item, key, value, None if self._headers is None else self._headers(item)))
        for attempt in range(1, self._attempts + 1):
            failed: list[tuple[T, bytes | None, bytes, Headers | None]] = []
            for message in pending:
                self._produce(message, failed)
            remaining = self._producer.flush(self._flush_timeout_s)
            if remaining == 0 and not failed:
                return
            log.warning(
                "kafka out %s: %d failed, %d unacknowledged (attempt %d/%d)",
                self._topic,
                len(failed),
                remaining,
                attempt,
                self._attempts,
            )
            if remaining:
                # Unacknowledged messages are still queued in librdkafka; keep waiting for them.
                self._producer.flush(self._flush_timeout_s)
            pending = failed
            if not pending:
                return
        raise KafkaOutputError(f"kafka out {self._topic}: {len(pending)} messages undelivered after retries")

    def _refused(self, key: bytes | None, value: bytes, reason: str, error_type: str) -> None:
        """A message that can never be produced (does not fit its schema, too large for the broker):
        dead-letter it and go on; on the dead-letter topic itself, log it (one line) and go on."""
        REFUSED.labels(self._topic).inc()
        if self._dead_letters is None:
            log.error(
                "kafka out %s: message refused, dropped (%s: %s; key=%r, %d bytes)",
                self._topic, error_type, reason, key, len(value),
            )  # fmt: skip
            return
        log.error("kafka out %s: message refused, dead-lettered (%s: %s)", self._topic, error_type, reason)
        self._dead_letters(
            DeadLetter.of(
                f"kafka_out:{self._topic}",
                reason,
                error_type,
                datetime.now(UTC),
                key=key,
                value=value,
                source_topic=self._topic,
            )
        )

    def _produce(
        self,
        message: tuple[T, bytes | None, bytes, Headers | None],
        failed: list[tuple[T, bytes | None, bytes, Headers | None]],
    ) -> None:
        _, key, value, headers = message

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is None:
                return
            if err.code() in _REFUSED_CODES:
                self._refused(key, value, err.str(), f"KafkaError.{err.name()}")
            else:
                failed.append(message)

        while True:
            try:
                self._producer.produce(self._topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                self._producer.poll(0)
                return
            except BufferError:
                # Local queue full: serve delivery reports until there is room.
                self._producer.poll(0.05)
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is not None and err.code() in _REFUSED_CODES:
                    self._refused(key, value, err.str(), f"KafkaError.{err.name()}")
                    return
                raise KafkaOutputError(f"kafka out {self._topic}: cannot produce: {exc}") from exc

    def close(self) -> None:
        self._producer.flush(self._flush_timeout_s)


class AvroKafkaSink(DynamicSink[T], Generic[T]):
    """Write records of one type as Avro (``schemas/<schema_name>.avsc``) to one topic."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        schema_name: str,
        key: Callable[[T], str | None],
        value: Callable[[T], dict[str, Any]],
        *,
        attempts: int = 5,
        flush_timeout_s: float = 30.0,
        dead_letters: DeadLetterFn | None = None,
        headers: Callable[[T], Headers] | None = None,
    ) -> None:
        self._dead_letters = dead_letters
        self._headers = headers
        self._settings = settings
        self._topic = topic
        self._schema_name = schema_name
        self._key = key
        self._value = value
        self._attempts = attempts
        self._flush_timeout_s = flush_timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AvroPartition[T]:
        """One producer and encoder per worker."""
        from schemas.serde import shared_registry_client

        k = self._settings.kafka
        producer = Producer(
            client_config(
                k,
                **{
                    "compression.type": k.compression,
                    "enable.idempotence": "false",
                    "linger.ms": "5",
                    "client.id": f"alpr-flow-{step_id}-{worker_index}",
                },
            )
        )
        encoder = AvroEncoder(shared_registry_client(k), self._schema_name, self._topic)
        encoder.register()
        return _AvroPartition(
            producer,
            encoder,
            self._topic,
            self._key,
            self._value,
            self._attempts,
            self._flush_timeout_s,
            self._dead_letters,
            self._headers,
        )


def event_version(event: PlateEvent) -> str:
    """The version of an event a consumer de-duplicates on: ``<sightings>.<p|f>.<last_seen ms>``.

    The order of :func:`db.events.event_rank` (more sightings, final over
    provisional, later): a replayed copy has the same version, an update a higher one.
    """
    return f"{event.sightings}.{'p' if event.provisional else 'f'}.{to_millis(event.last_seen)}"


def event_headers(event: PlateEvent) -> Headers:
    """``alpr-id: <event_id>``, ``alpr-dedup-key: <event_id>/<version>``."""
    eid = event.event_id.encode()
    return [(ID_HEADER, eid), (DEDUP_HEADER, eid + b"/" + event_version(event).encode())]


def alert_headers(hit: WatchlistHit) -> Headers:
    """``alpr-id`` and ``alpr-dedup-key``, both the ``alert_id`` (one alert per event and entry)."""
    aid = hit.alert_id.encode()
    return [(ID_HEADER, aid), (DEDUP_HEADER, aid)]


def plate_events_sink(settings: Settings, dead_letters: DeadLetterFn | None = None) -> AvroKafkaSink[PlateEvent]:
    """Plate events on ``kafka.topics.plates``, key = event id, headers :func:`event_headers`."""
    return AvroKafkaSink(
        settings,
        settings.kafka.topics.plates,
        "plate_event",
        lambda e: e.event_id,
        PlateEvent.to_avro,
        dead_letters=dead_letters,
        headers=event_headers,
    )


def alerts_topic_sink(settings: Settings, dead_letters: DeadLetterFn | None = None) -> AvroKafkaSink[WatchlistHit]:
    """Watchlist alerts on ``kafka.topics.alerts``, key = alert id, headers :func:`alert_headers`;
    ``crop_url`` presigned for ``s3.public_endpoint``, valid ``flow.alerts.image_link_s`` (consumers
    outside the stack open it)."""
    from flows.sinks.s3 import crop_presigner

    presign = crop_presigner(settings.s3, settings.flow.alerts.image_link_s)

    def value(hit: WatchlistHit) -> dict[str, Any]:
        record = hit.to_avro()
        if hit.event.crop_key:
            record["crop_url"] = presign(hit.event.crop_key)
        return record

    return AvroKafkaSink(
        settings,
        settings.kafka.topics.alerts,
        "watchlist_alert",
        lambda h: h.alert_id,
        value,
        dead_letters=dead_letters,
        headers=alert_headers,
    )


def dead_letter_sink(settings: Settings) -> AvroKafkaSink[DeadLetter]:
    """Dead letters on ``kafka.topics.dead_letter``, key = the topic they came from; key + value
    cut to ``limits.dead_letter_bytes`` (:func:`flows.sinks.dead_letters.bounded`)."""
    from flows.sinks.dead_letters import bounded

    limit = settings.limits.dead_letter_bytes
    return AvroKafkaSink(
        settings,
        settings.kafka.topics.dead_letter,
        "dead_letter",
        lambda d: d.source_topic,
        lambda d: bounded(d, limit).to_avro(),
    )
