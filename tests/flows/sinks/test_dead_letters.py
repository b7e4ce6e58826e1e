"""Dead letters from sink threads reach the dead-letter topic as Avro (real broker and registry)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from flows.sinks.dead_letters import KafkaDeadLetterPublisher
from operators.records import DeadLetter
from schemas.serde import AvroDecoder

pytestmark = pytest.mark.integration


def test_dead_letters_are_published_as_avro_keyed_by_origin(stack_settings):
    topic = f"deadletter-{secrets.token_hex(3)}"
    k = stack_settings.kafka
    admin = AdminClient({"bootstrap.servers": k.bootstrap_servers})  # kept alive until the topic exists
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)
    settings = stack_settings.model_copy(
        update={"kafka": k.model_copy(update={"topics": k.topics.model_copy(update={"dead_letter": topic})})}
    )
    now = datetime.now(UTC).replace(microsecond=0)
    sent = [
        DeadLetter("", -1, -1, b"event-1", b"\xff\xd8crop", "s3:crops", "s3 down", "CropStoreError", now),
        DeadLetter("alpr.alerts", -1, -1, b"alert-1", b"{}", "alert_delivery:hook", "HTTP 503", "X", now),
    ]
    publisher = KafkaDeadLetterPublisher(settings)
    for letter in sent:
        publisher(letter)
    publisher.close()

    consumer = Consumer({"bootstrap.servers": k.bootstrap_servers, "group.id": f"t-{secrets.token_hex(3)}"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    decoder = AvroDecoder(SchemaRegistryClient({"url": k.schema_registry_url}))
    got: list[tuple[bytes, DeadLetter]] = []
    deadline = time.monotonic() + 20
    try:
        while len(got) < 2 and time.monotonic() < deadline:
            for msg in consumer.consume(10, 0.5):
                if msg.error() is None:
                    got.append((msg.key(), DeadLetter.from_avro(decoder.decode(msg.value()))))
    finally:
        consumer.close()
    assert [key for key, _ in got] == [b"s3:crops", b"alpr.alerts"]
    assert [letter for _, letter in got] == sent
