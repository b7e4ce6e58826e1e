"""The durable broker (Tansu on the local S3) keeps topics, messages and offsets across a restart."""

from __future__ import annotations

import time
import uuid

import pytest

from services import stack
from services.process import pid_alive
from tests.fixtures.stack import make_stack_settings

pytestmark = pytest.mark.integration

MESSAGES = 20


@pytest.fixture
def durable(tmp_path):
    settings = make_stack_settings(tmp_path / "run", broker_storage="s3")
    reports = stack.up(settings, only=["broker"], die_with_parent=True)
    assert [(r.name, r.state) for r in reports] == [("s3", "started"), ("broker", "started")], reports
    yield settings
    stack.down(settings, grace_s=3)


def _consumer(settings, group: str):
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": settings.kafka.session_timeout_ms,
        }
    )


def _drain(consumer, want: int, timeout_s: float = 30.0) -> list:
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
    return got


def test_topics_messages_and_offsets_survive_a_restart(durable):
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    settings = durable
    topic = f"durable-{uuid.uuid4().hex[:8]}"
    bootstrap = settings.kafka.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=15)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    sent = [f"message-{i}".encode() for i in range(MESSAGES)]
    for value in sent:
        producer.produce(topic, value=value, key=b"cam-1")
    assert producer.flush(15) == 0

    # Read half with a group and commit exactly there.
    half = MESSAGES // 2
    consumer = _consumer(settings, "durable-group")
    consumer.subscribe([topic])
    first = _drain(consumer, half)
    assert [m.value() for m in first[:half]] == sent[:half]
    consumer.commit(offsets=[TopicPartition(topic, 0, first[half - 1].offset() + 1)], asynchronous=False)
    consumer.close()

    broker_pid = next(r.pid for r in stack.status(settings, only=["broker"]) if r.name == "broker")
    assert stack.down(settings, only=["broker"])[0].pid == broker_pid
    assert not pid_alive(broker_pid)

    restarted = stack.up(settings, only=["broker"], die_with_parent=True)
    assert [(r.name, r.state) for r in restarted] == [("s3", "running"), ("broker", "started")], restarted
    assert restarted[1].pid != broker_pid

    assert topic in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics

    # Every message is still there, in order.
    fresh = _consumer(settings, f"fresh-{uuid.uuid4().hex[:8]}")
    fresh.assign([TopicPartition(topic, 0, 0)])
    assert [m.value() for m in _drain(fresh, MESSAGES)] == sent
    fresh.close()

    # The group's committed offset survived; reading on from it gives the rest.
    resumed = _consumer(settings, "durable-group")
    committed = resumed.committed([TopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == half
    resumed.assign(committed)
    assert [m.value() for m in _drain(resumed, MESSAGES - half)] == sent[half:]
    resumed.close()
