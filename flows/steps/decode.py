"""The ``decode`` step: raw crop messages -> ``(camera:track, PlateCrop)`` or a dead letter.

:class:`CropDecoder` turns each raw message into a :class:`~operators.records.PlateCrop` or,
when it cannot, a :class:`~operators.records.DeadLetter` holding the original key and value
bytes and the reason; :class:`Decode` keys the crops by track for ``best_shot``, and the flow
branches the dead letters off to Kafka.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage

from config.limits import LimitSettings
from config.settings import Settings
from flows import metrics
from flows.source import RawMessage
from operators.records import DeadLetter, PlateCrop, RecordError
from operators.text import check_crop
from schemas.serde import AvroDecoder, DecodeError, RegistryUnavailableError

log = logging.getLogger(__name__)

Decoded = PlateCrop | DeadLetter


class Decode:
    """``op.flat_map_batch`` mapper: ``[RawMessage] -> [(camera:track, PlateCrop) | DeadLetter]``."""

    def __init__(self, decode: Callable[[list[RawMessage]], list[Decoded]]) -> None:
        self._decode = decode

    def __call__(self, batch: list[RawMessage]) -> list[tuple[str, PlateCrop] | DeadLetter]:
        return [
            (f"{d.camera_id}:{d.track_id}", d) if type(d) is PlateCrop else d  # noqa: E721
            for d in self._decode(batch)
        ]


class CropDecoder:
    """Decode raw crop messages; never raises for bad input (see the module docstring).

    ``make_decoder`` builds the Avro decoder lazily (it opens a registry client), once per
    instance; ``now`` stamps dead letters and bounds frame times. A registry outage is not the
    message's fault: decoding is retried for ``registry_retry_s`` before the message is
    dead-lettered. Every crop is checked against ``limits`` (:func:`operators.text.check_crop`:
    id lengths and characters, image size, frame time): the edge of the system for crops.
    """

    def __init__(
        self,
        make_decoder: Callable[[], AvroDecoder],
        *,
        registry_retry_s: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: LimitSettings | None = None,
    ) -> None:
        self._make_decoder = make_decoder
        self._limits = limits or LimitSettings()
        self._decoder: AvroDecoder | None = None
        self._lock = threading.Lock()
        self._registry_retry_s = registry_retry_s
        self._now = now
        self._decoded = metrics.STEP_ITEMS.labels("decode")  # messages in, crops and dead letters

    @classmethod
    def from_settings(cls, settings: Settings) -> CropDecoder:
        """A decoder asking the registry of ``settings`` for writer schemas."""

        def make() -> AvroDecoder:
            from schemas.serde import shared_registry_client

            client = shared_registry_client(settings.kafka)
            return AvroDecoder(client, reader_schema="plate_crop")

        return cls(make, registry_retry_s=settings.flow.input.registry_retry_s, limits=settings.limits)

    def _avro(self) -> AvroDecoder:
        if self._decoder is None:
            with self._lock:
                if self._decoder is None:
                    self._decoder = self._make_decoder()
        return self._decoder

    def __call__(self, batch: list[RawMessage]) -> list[Decoded]:
        """``op.flat_map_batch`` mapper: one :meth:`decode` per message, in order."""
        out = [self.decode(msg) for msg in batch]
        self._decoded.inc(len(out))
        return out

    def decode(self, msg: RawMessage) -> Decoded:
        """A :class:`PlateCrop`, or a :class:`DeadLetter` saying why not."""
        if isinstance(msg, KafkaError):
            return self._dead(msg.msg, "consume", str(msg.err), "KafkaError")
        value = msg.value
        if value is None:
            return self._dead(msg, "decode", "message has no value (tombstone)", "DecodeError")
        try:
            try:
                record = (self._decoder or self._avro()).decode(value)
            except RegistryUnavailableError:
                record = self._decode_retrying(value)
            return check_crop(PlateCrop.from_avro(record), self._limits, self._now())
        except (DecodeError, RegistryUnavailableError) as exc:
            return self._dead(msg, "decode", exc.reason, type(exc).__name__)
        except RecordError as exc:
            return self._dead(msg, "validate", str(exc), type(exc).__name__)

    def _decode_retrying(self, value: bytes) -> dict[str, Any]:
        deadline = time.monotonic() + self._registry_retry_s
        wait = 0.2
        while True:
            try:
                return self._avro().decode(value)
            except RegistryUnavailableError as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("decode: schema registry unavailable, retrying in %.1f s: %s", wait, exc.reason)
                time.sleep(wait)
                wait = min(wait * 2, 5.0)

    def _dead(self, msg: KafkaSourceMessage[Any, Any], step: str, reason: str, error_type: str) -> DeadLetter:
        metrics.DEAD_LETTERS.labels(step, error_type).inc()
        log.warning("%s: dead-lettering %s[%s]@%s: %s", step, msg.topic, msg.partition, msg.offset, reason)
        return DeadLetter.of(
            step,
            reason,
            error_type,
            self._now(),
            key=msg.key,
            value=msg.value,
            source_topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
        )
