"""The flow's input: plate crops from Kafka, decoded from Avro, bad messages as dead letters.

:func:`crop_source` is bytewax's partitioned :class:`~bytewax.connectors.kafka.KafkaSource`
on the crops topic; its offsets live in bytewax's recovery snapshots, not in the consumer
group. Nothing connects before the dataflow runs: the source lists partitions in
``list_parts`` and each decoder builds its registry client on first use.

:class:`CropDecoder` turns each raw message into a :class:`~operators.records.PlateCrop` or,
when it cannot, a :class:`~operators.records.DeadLetter` holding the original key and value
bytes and the reason; the flow branches the two apart and sends dead letters to Kafka.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bytewax.connectors.kafka import KafkaError, KafkaSource, KafkaSourceMessage, _KafkaSourcePartition
from confluent_kafka import Consumer, TopicPartition

from config.kafka import client_config
from config.limits import LimitSettings
from config.settings import Settings
from flows import metrics, runtime
from flows.stall import StallWatch
from operators.records import DeadLetter, PlateCrop, RecordError
from operators.text import check_crop
from schemas.serde import AvroDecoder, DecodeError, RegistryUnavailableError

log = logging.getLogger(__name__)

RawMessage = KafkaSourceMessage[bytes | None, bytes | None] | KafkaError[bytes | None, bytes | None]
Decoded = PlateCrop | DeadLetter


#: The longest fetch wait a stalled source reopens with (ms).
MAX_FETCH_WAIT_MS = 5000


class _WatchedPartition(_KafkaSourcePartition):
    """bytewax's partition with the consumer-stall alarm (:mod:`flows.stall`): on a stall it
    logs, counts, and reopens the consumer at its offset with a four times longer fetch wait."""

    def __init__(self, step_id: str, config: dict[str, Any], topic: str, part_idx: int, *args: Any, stall_s: float):
        self._config = dict(config)
        self._watch = StallWatch(f"{topic}[{part_idx}]", stall_s)
        super().__init__(step_id, config, topic, part_idx, *args)

    def _process_stats(self, json_stats: str) -> None:
        super()._process_stats(json_stats)
        import json

        try:
            part = json.loads(json_stats)["topics"][self._topic]["partitions"][str(self._part_idx)]
            high = int(part["hi_offset"])
        except (KeyError, TypeError, ValueError):
            return
        if high >= 0:
            self._watch.lag(high - self._offset)

    def next_batch(self) -> list[Any]:
        batch = super().next_batch()
        if self._watch.observe(len(batch)):
            wait = int(self._config.get("fetch.wait.max.ms", 500))
            longer = min(max(wait * 4, 100), MAX_FETCH_WAIT_MS)
            log.warning(
                "source: %s has lag but consumes nothing for %.0f s (fetch.wait.max.ms=%s): reopening the"
                " consumer at offset %s with fetch.wait.max.ms=%s; raise flow.input.fetch_wait_ms if this repeats",
                self._watch.partition, self._watch.stalled_for, wait, self._offset, longer,
            )  # fmt: skip
            self._reopen(longer)
        return batch

    def _reopen(self, fetch_wait_ms: int) -> None:
        self._config["fetch.wait.max.ms"] = str(fetch_wait_ms)
        self._consumer.close()
        config = {**self._config, "stats_cb": self._process_stats}
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(self._topic, self._part_idx, self._offset)])


class CropKafkaSource(KafkaSource):
    """bytewax's ``KafkaSource``, listing partitions without the consumer-only properties
    (librdkafka warns about each one given to the admin client), with the consumer-stall alarm
    (``stall_s``; :class:`_WatchedPartition`).

    ``on_start`` runs in :meth:`list_parts`, which bytewax calls on every worker when the
    dataflow starts, before any message: the flow's process set-up (logs, ``/metrics``).
    """

    def __init__(
        self,
        *args: Any,
        admin_config: dict[str, Any],
        on_start: Callable[[], None] | None = None,
        stall_s: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._admin_config = admin_config
        self._on_start = on_start
        self._stall_s = stall_s

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _KafkaSourcePartition:
        """As bytewax's ``KafkaSource.build_part`` (same consumer configuration), watched for stalls."""
        idx, topic = for_part.split("-", 1)
        if topic not in self._topics:
            raise ValueError(f"source: cannot resume partition {for_part!r}: not a partition of {self._topics}")
        config = {
            "group.id": "BYTEWAX_IGNORED",  # offsets live in bytewax's recovery snapshots
            "enable.auto.commit": "false",
            "bootstrap.servers": ",".join(self._brokers),
            "enable.partition.eof": str(not self._tail),
            "statistics.interval.ms": 1000,
            **self._add_config,
        }
        return _WatchedPartition(
            step_id,
            config,
            topic,
            int(idx),
            self._starting_offset,
            resume_state,
            self._batch_size,
            self._raise_on_errors,
            stall_s=self._stall_s,
        )

    def list_parts(self) -> list[str]:
        """Each Kafka partition of the crops topic is an input partition."""
        from bytewax.connectors.kafka import _list_parts
        from confluent_kafka.admin import AdminClient

        if self._on_start is not None:
            self._on_start()
        client = AdminClient(self._admin_config)
        return list(_list_parts(client, self._topics))


def crop_source(settings: Settings) -> KafkaSource:
    """The partitioned Kafka source of the crops topic (one bytewax partition per Kafka partition).

    With ``flow.input.stop_at_end`` the source ends at the end of every partition (replays,
    tests); otherwise it tails the topic forever. Offsets are kept in bytewax's recovery
    snapshots (the consumer group is not committed to).
    """
    k = settings.kafka
    return CropKafkaSource(
        brokers=k.bootstrap_servers.split(","),
        topics=[k.topics.crops],
        tail=not settings.flow.input.stop_at_end,
        # Offset 0 with ``auto.offset.reset=earliest`` is "the beginning" without the offset
        # lookup of OFFSET_BEGINNING, which costs ~0.5 s at every start (measured on Tansu);
        # when offset 0 is gone (retention), librdkafka resets to the earliest one kept.
        starting_offset=0,
        add_config=client_config(
            k,
            **{
                "auto.offset.reset": "earliest",
                "group.id": k.consumer_group,
                # Tansu needs short sessions; harmless on Apache Kafka (offsets are bytewax's).
                "session.timeout.ms": str(k.session_timeout_ms),
                "fetch.wait.max.ms": str(settings.flow.input.fetch_wait_ms),
            },
        ),
        batch_size=settings.flow.input.batch_size,
        raise_on_errors=False,
        admin_config=client_config(k),
        on_start=partial(start_process, settings),
        stall_s=settings.flow.input.stall_alarm_s,
    )


def start_process(settings: Settings) -> None:
    """The flow process's set-up when the dataflow starts: logs, ``/metrics``, GC tuning (idempotent)."""
    from telemetry import logs

    logs.configure(settings.log)
    metrics.serve(settings.metrics)
    runtime.tune_gc()


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
            return check_crop(PlateCrop.from_avro_fast(record), self._limits, self._now())
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
        return DeadLetter(
            source_topic=msg.topic or "",
            partition=-1 if msg.partition is None else msg.partition,
            offset=-1 if msg.offset is None or msg.offset < 0 else msg.offset,
            key=msg.key,
            value=msg.value,
            step=step,
            reason=reason,
            error_type=error_type,
            ts=self._now(),
        )
