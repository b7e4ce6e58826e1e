"""Kafka outputs of the flow: plate events, watchlist alerts and dead letters, as Avro.

:class:`AvroKafkaSink` is a bytewax ``DynamicSink``: each worker builds its own producer and
Avro encoder when the dataflow starts (nothing connects at import time). A batch is
flushed before ``write_batch`` returns, and messages the broker did not acknowledge are
produced again; a batch that still fails raises, so bytewax stops and, with recovery,
replays it on restart (at-least-once; consumers key on ``event_id``/``alert_id``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaException, Producer

from config.kafka import client_config
from config.settings import Settings
from operators.records import DeadLetter, PlateEvent, WatchlistHit
from schemas.serde import AvroEncoder, EncodeError

log = logging.getLogger(__name__)

T = TypeVar("T")
DeadLetterFn = Callable[[DeadLetter], None]


class KafkaOutputError(RuntimeError):
    """Messages could not be delivered to Kafka after retries."""


def _key_bytes(key: str | None) -> bytes | None:
    return None if key is None else key.encode()


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
    ) -> None:
        self._dead_letters = dead_letters
        self._producer = producer
        self._encoder = encoder
        self._topic = topic
        self._key = key
        self._value = value
        self._attempts = attempts
        self._flush_timeout_s = flush_timeout_s

    def write_batch(self, items: list[T]) -> None:
        pending: list[tuple[bytes | None, bytes]] = []
        for item in items:
            key = _key_bytes(self._key(item))
            try:
                pending.append((key, self._encoder.encode(self._value(item))))
            except EncodeError as exc:
                self._unencodable(key, item, exc)
        for attempt in range(1, self._attempts + 1):
            failed: list[tuple[bytes | None, bytes]] = []

            def on_delivery(err: Any, msg: Any, failed: list[tuple[bytes | None, bytes]] = failed) -> None:
                if err is not None:
                    failed.append((msg.key(), msg.value()))

            for key, value in pending:
                self._produce(key, value, on_delivery)
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

    def _unencodable(self, key: bytes | None, item: object, exc: EncodeError) -> None:
        """A record that does not fit its schema is a bug upstream: dead-letter it, keep going."""
        log.error("kafka out %s: cannot encode %r: %s", self._topic, item, exc.reason)
        if self._dead_letters is not None:
            self._dead_letters(
                DeadLetter(
                    source_topic=self._topic,
                    partition=-1,
                    offset=-1,
                    key=key,
                    value=repr(item).encode(),
                    step=f"kafka_out:{self._topic}",
                    reason=exc.reason,
                    error_type=type(exc).__name__,
                    ts=datetime.now(UTC),
                )
            )

    def _produce(self, key: bytes | None, value: bytes, on_delivery: Callable[..., None]) -> None:
        while True:
            try:
                self._producer.produce(self._topic, value=value, key=key, on_delivery=on_delivery)
                self._producer.poll(0)
                return
            except BufferError:
                # Local queue full: serve delivery reports until there is room.
                self._producer.poll(0.05)
            except KafkaException as exc:
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
    ) -> None:
        self._dead_letters = dead_letters
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
        )


def plate_events_sink(
    settings: Settings, dead_letters: DeadLetterFn | None = None
) -> AvroKafkaSink[PlateEvent]:
    """Plate events on ``kafka.topics.plates``, key = camera id."""
    return AvroKafkaSink(
        settings,
        settings.kafka.topics.plates,
        "plate_event",
        lambda e: e.camera_id,
        PlateEvent.to_avro,
        dead_letters=dead_letters,
    )


def alerts_topic_sink(
    settings: Settings, dead_letters: DeadLetterFn | None = None
) -> AvroKafkaSink[WatchlistHit]:
    """Watchlist alerts on ``kafka.topics.alerts``, key = camera id; ``crop_url`` presigned for
    ``s3.public_endpoint``, valid ``flow.alerts.image_link_s`` (consumers outside the stack open it)."""
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
        lambda h: h.event.camera_id,
        value,
        dead_letters=dead_letters,
    )


def dead_letter_sink(settings: Settings) -> AvroKafkaSink[DeadLetter]:
    """Dead letters on ``kafka.topics.dead_letter``, key = the topic they came from."""
    return AvroKafkaSink(
        settings,
        settings.kafka.topics.dead_letter,
        "dead_letter",
        lambda d: d.source_topic,
        DeadLetter.to_avro,
    )
