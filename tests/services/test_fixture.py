"""The shared ``stack_settings`` fixture points at a working broker, S3 store and schema registry."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from services.objectstore import s3_client

pytestmark = pytest.mark.integration


def test_broker_round_trip(stack_settings):
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = f"fixture-{uuid.uuid4().hex[:8]}"
    bootstrap = stack_settings.kafka.bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    producer.produce(topic, key=b"cam", value=b"hello")  # auto-created topic
    assert producer.flush(15) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    msg = None
    for _ in range(40):
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            break
    consumer.close()
    assert msg is not None and msg.value() == b"hello"


def test_s3_bucket_exists_and_stores_objects(stack_settings):
    client = s3_client(stack_settings)
    bucket = stack_settings.s3.bucket
    assert client.bucket_exists(bucket)
    client.put_object(bucket, "fixture/probe.bin", io.BytesIO(b"\x00crop"), length=5)
    response = client.get_object(bucket, "fixture/probe.bin")
    try:
        assert response.read() == b"\x00crop"
    finally:
        response.close()
        response.release_conn()


def test_schema_registry_registers_avro(stack_settings):
    pytest.importorskip("services.registry")
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    client = SchemaRegistryClient({"url": stack_settings.kafka.schema_registry_url})
    schema = {
        "type": "record",
        "name": "Probe",
        "namespace": "io.alpr.test",
        "fields": [{"name": "a", "type": "int"}],
    }
    subject = f"fixture-{uuid.uuid4().hex[:8]}-value"
    schema_id = client.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
    assert client.get_latest_version(subject).schema_id == schema_id
    assert subject in client.get_subjects()
