"""Helpers of the flow's integration tests: per-test settings, topics, producing and reading back.

Each test gets its own topics, cameras and alert channels, so tests can share the session's
broker, registry, S3 store and database.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import SecretStr

from config.flow import AlertChannel, AlertSettings
from config.load import write_settings
from config.settings import Settings, TopicSettings
from operators.records import PlateCrop
from schemas.serde import AvroDecoder, AvroEncoder
from tests.flows.crops import labelled_crops, make_crop

SECRET = "flow-test-secret"
ROOT = Path(__file__).resolve().parents[2]


def recent() -> datetime:
    """A frame time an hour ago: inside the premade partitions of plate_events."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def flow_settings(base: Settings, receiver_url: str | None = None, *, partitions: int = 2, **flow: Any) -> Settings:
    """``base`` with fresh topics, metrics off, a webhook + Slack channel, and ``flow`` overrides."""
    tag = secrets.token_hex(4)
    topics = TopicSettings(
        crops=f"crops-{tag}",
        detections=f"det-{tag}",
        plates=f"plates-{tag}",
        alerts=f"alerts-{tag}",
        dead_letter=f"dlq-{tag}",
    )
    kafka = base.kafka.model_copy(update={"topics": topics})
    channels = ()
    if receiver_url is not None:
        channels = (
            AlertChannel(
                name=f"hook-{tag}",
                type="webhook",
                url=f"{receiver_url}/webhook",
                secret=SecretStr(SECRET),
                timeout_s=2,
            ),
            AlertChannel(name=f"slack-{tag}", type="slack", url=f"{receiver_url}/slack", timeout_s=2),
        )
    alerts = AlertSettings(channels=channels, backoff_initial_s=0.1, backoff_max_s=0.5, poll_s=0.2)
    flow_data = {"alerts": alerts, "input": {"stop_at_end": True}, "watchlists": {"reload_s": 0.5}, **flow}
    settings = base.model_copy(
        update={
            "kafka": kafka,
            "metrics": base.metrics.model_copy(update={"enabled": False}),
            "flow": type(base.flow).model_validate({**base.flow.model_dump(exclude={"alerts"}), **flow_data}),
        }
    )
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=partitions if t == topics.crops else 1, replication_factor=1)
            for t in (topics.crops, topics.plates, topics.alerts, topics.dead_letter)
        ]
    )
    for f in futures.values():
        f.result(timeout=30)
    return settings


def channel_names(settings: Settings) -> list[str]:
    return [c.name for c in settings.flow.alerts.channels]


def produce(settings: Settings, values: list[tuple[str, bytes]]) -> None:
    """Produce ``(key, value)`` pairs to the crops topic and wait for every acknowledgement."""
    k = settings.kafka
    producer = Producer({"bootstrap.servers": k.bootstrap_servers, "linger.ms": 5})
    errors: list[str] = []
    for key, value in values:
        producer.produce(
            k.topics.crops,
            key=key.encode(),
            value=value,
            on_delivery=lambda err, _m: errors.append(str(err)) if err else None,
        )
        producer.poll(0)
    assert producer.flush(30) == 0 and not errors, errors


def crop_encoder(settings: Settings) -> AvroEncoder:
    registry = SchemaRegistryClient({"url": settings.kafka.schema_registry_url})
    return AvroEncoder(registry, "plate_crop", settings.kafka.topics.crops)


def track_crops(
    plate_index: int, camera: str, track: str, start: datetime, n: int = 3, gap_s: float = 0.1
) -> list[PlateCrop]:
    """``n`` crops of one real plate image, rising quality."""
    jpeg = labelled_crops()[plate_index].jpeg
    return [
        make_crop(
            jpeg,
            camera=camera,
            track=track,
            index=i,
            at=start + timedelta(seconds=gap_s * i),
            quality=0.5 + 0.1 * i,
        )
        for i in range(n)
    ]


def read_topic(settings: Settings, topic: str, expect: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Every Avro record of ``topic`` (single partition) once ``expect`` arrived or the time is up."""
    k = settings.kafka
    consumer = Consumer(
        {
            "bootstrap.servers": k.bootstrap_servers,
            "group.id": f"test-{secrets.token_hex(4)}",
            "session.timeout.ms": k.session_timeout_ms,
            "enable.auto.commit": False,
        }
    )
    decoder = AvroDecoder(SchemaRegistryClient({"url": k.schema_registry_url}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if msg.error() is None:
                    out.append({"key": msg.key(), "headers": dict(msg.headers() or ()), **decoder.decode(msg.value())})
    finally:
        consumer.close()
    return out


def start_flow(
    config: Path, recovery: Path | None, log: Path, *args: str, flow: str = "flows.plates", **env: str
) -> subprocess.Popen[bytes]:
    """``python -m bytewax.run <flow>`` as a child process (with recovery in ``recovery``, a
    snapshot every second), configured by ``config``, output appended to ``log``."""
    cmd = [sys.executable, "-m", "bytewax.run", flow, *args]
    if recovery is not None:
        cmd += ["-r", str(recovery), "-s", "1", "-b", "0"]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "ALPR_CONFIG": str(config), **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def count_events(url: str, cams: list[str]) -> int:
    """Rows of ``plate_events`` of these cameras."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM plate_events WHERE camera_id = ANY(%s)", (cams,)).fetchone()[0]


def write_config(settings: Settings, path: Path) -> Path:
    """Write ``settings`` (secrets included) as a YAML file ``load_settings`` reads back equal."""
    return write_settings(settings, path)
