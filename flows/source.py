"""The flow's input: raw plate-crop messages from Kafka (decoded by :mod:`flows.steps.decode`).

:func:`crop_source` is bytewax's partitioned :class:`~bytewax.connectors.kafka.KafkaSource`
on the crops topic; its offsets live in bytewax's recovery snapshots, not in the consumer
group. Nothing connects before the dataflow runs: the source lists partitions in
``list_parts``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bytewax.connectors.kafka import KafkaError, KafkaSource, KafkaSourceMessage, _KafkaSourcePartition
from confluent_kafka import Consumer, TopicPartition

from config.kafka import client_config
from config.settings import Settings
from flows.stall import StallWatch

log = logging.getLogger(__name__)

RawMessage = KafkaSourceMessage[bytes | None, bytes | None] | KafkaError[bytes | None, bytes | None]


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


def crop_source(settings: Settings, on_start: Callable[[], None] | None = None) -> KafkaSource:
    """The partitioned Kafka source of the crops topic (one bytewax partition per Kafka partition).

    ``on_start`` runs on every worker when the dataflow starts (:func:`flows.process.start`).

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
        on_start=on_start,
        stall_s=settings.flow.input.stall_alarm_s,
    )
