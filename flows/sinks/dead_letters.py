"""Dead letters raised outside the dataflow's own steps (sink retries, alert delivery threads).

The sinks take a ``dead_letters`` callback. In the flow it is a
:class:`KafkaDeadLetterPublisher`: thread-safe (librdkafka's producer is), Avro through the
registry on ``kafka.topics.dead_letter``, key = the topic the message came from (as the
flow's own dead letters), else the step that failed (``postgres:...``, ``s3:crops``). A dead
letter the broker does not acknowledge in time stays queued in the producer; one that cannot
be produced at all is logged with its reason and a summary of its content.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from confluent_kafka import Producer

from config.kafka import client_config
from config.settings import Settings
from flows.metrics import DEAD_LETTERS
from operators.records import DeadLetter
from operators.text import shorten

log = logging.getLogger(__name__)


#: Longest ``reason`` a dead letter keeps (characters); the rest is cut with a note.
REASON_CHARS = 2000


def bounded(dead: DeadLetter, max_bytes: int) -> DeadLetter:
    """``dead`` with key + value cut to ``max_bytes`` and the reason to :data:`REASON_CHARS`.

    A dead letter carries the original bytes of a message, which may be larger than the broker
    takes (``MSG_SIZE_TOO_LARGE`` would stop the flow at every replay). What is cut is said at the
    end of the reason; the kept bytes are the first ones (the Avro header and ids come first).
    """
    key, value = dead.key or b"", dead.value or b""
    reason = shorten(dead.reason, REASON_CHARS)
    if len(key) + len(value) <= max_bytes:
        return dead if reason is dead.reason else replace(dead, reason=reason)
    new_key = key[: min(len(key), max_bytes // 8)]
    new_value = value[: max_bytes - len(new_key)]
    cut = []
    if len(new_key) < len(key):
        cut.append(f"key cut from {len(key)} to {len(new_key)} bytes")
    if len(new_value) < len(value):
        cut.append(f"value cut from {len(value)} to {len(new_value)} bytes")
    return replace(
        dead,
        key=None if dead.key is None else new_key,
        value=None if dead.value is None else new_value,
        reason=f"{reason} [{', '.join(cut)} (limits.dead_letter_bytes)]",
    )


class KafkaDeadLetterPublisher:
    """``publish(dead_letter)`` / ``publisher(dead_letter)`` to the dead-letter topic; connects lazily."""

    def __init__(self, settings: Settings, *, flush_timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._topic = settings.kafka.topics.dead_letter
        self._max_bytes = settings.limits.dead_letter_bytes
        self._flush_timeout_s = flush_timeout_s
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._encoder: Any = None

    def _ready(self) -> tuple[Producer, Any]:
        with self._lock:
            if self._producer is None:
                from schemas.serde import AvroEncoder, shared_registry_client

                k = self._settings.kafka
                self._encoder = AvroEncoder(shared_registry_client(k), "dead_letter", self._topic)
                self._producer = Producer(client_config(k, **{"client.id": "alpr-flow-dead-letters"}))
            return self._producer, self._encoder

    def __call__(self, dead_letter: DeadLetter) -> None:
        self.publish(dead_letter)

    def publish(self, dead_letter: DeadLetter) -> None:
        """Produce one dead letter and wait for the broker's acknowledgement (errors are logged)."""
        errors: list[str] = []
        dead_letter = bounded(dead_letter, self._max_bytes)

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        try:
            producer, encoder = self._ready()
            producer.produce(
                self._topic,
                key=(dead_letter.source_topic or dead_letter.step).encode(),
                value=encoder.encode(dead_letter.to_avro()),
                on_delivery=on_delivery,
            )
            left = producer.flush(self._flush_timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure is logged with the dead letter below
            errors.append(f"{type(exc).__name__}: {exc}")
            left = 0
        if not errors and not left:
            DEAD_LETTERS.labels(dead_letter.step, dead_letter.error_type).inc()
        else:
            log.error(
                "dead letter of step %s NOT published to %s (%s): reason=%r key=%r value=%d bytes",
                dead_letter.step,
                self._topic,
                "; ".join(errors) or "not acknowledged yet, still queued",
                dead_letter.reason,
                dead_letter.key,
                len(dead_letter.value or b""),
            )

    def close(self) -> None:
        """Flush what is queued."""
        with self._lock:
            if self._producer is not None:
                self._producer.flush(self._flush_timeout_s)
