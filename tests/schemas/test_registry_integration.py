"""Codecs and the dev registry against the real local stack (broker + registry processes)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.settings import Settings
from schemas import load_schema
from schemas.serde import AvroDecoder, AvroEncoder, DecodeError
from tests.schemas.samples import SAMPLES

pytestmark = pytest.mark.integration


def _unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def test_crop_round_trips_through_broker_and_registry_with_separate_clients(stack_settings: Settings) -> None:
    kafka = stack_settings.kafka
    topic = _unique("it.crops")
    encoder = AvroEncoder(SchemaRegistryClient({"url": kafka.schema_registry_url}), "plate_crop", topic)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    producer.produce(topic, key=b"cam-1", value=encoder.encode(SAMPLES["plate_crop"]), partition=0)
    producer.produce(topic, key=b"cam-1", value=b"\x00\x00\x00\x00\x01broken", partition=0)
    assert producer.flush(10) == 0

    # assign(), not subscribe(): no consumer-group round trips, the test only reads.
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": _unique("it")})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(values) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value())
    consumer.close()

    decoder = AvroDecoder(SchemaRegistryClient({"url": kafka.schema_registry_url}))
    assert decoder.decode(values[0]) == SAMPLES["plate_crop"]
    with pytest.raises(DecodeError):
        decoder.decode(values[1])


def _evolved(name: str, extra: dict | None = None, change: dict | None = None) -> Schema:
    schema = json.loads(load_schema(name))
    if change:
        schema["fields"] = [change if f["name"] == change["name"] else f for f in schema["fields"]]
    if extra:
        schema["fields"].append(extra)
    return Schema(json.dumps(schema), "AVRO")


def test_backward_evolution_is_enforced(stack_settings: Settings) -> None:
    client = SchemaRegistryClient({"url": stack_settings.kafka.schema_registry_url})
    subject = f"{_unique('it.plates')}-value"
    first = client.register_schema(subject, Schema(load_schema("plate_event"), "AVRO"))
    optional = _evolved("plate_event", extra={"name": "lane", "type": ["null", "int"], "default": None})
    assert client.register_schema(subject, optional) != first
    assert client.get_versions(subject) == [1, 2]

    for refused in (
        _evolved("plate_event", extra={"name": "lane_required", "type": "int"}),
        _evolved("plate_event", change={"name": "confidence", "type": "string"}),
    ):
        assert client.test_compatibility(subject, refused) is False
        with pytest.raises(SchemaRegistryError) as caught:
            client.register_schema(subject, refused)
        assert caught.value.http_status_code == 409
    assert client.get_versions(subject) == [1, 2]


#: Fields the vehicle stage added to each schema (issue 18), with the values a reader fills in.
_VEHICLE_FIELDS = {
    "plate_crop": {"vehicle_type": None, "vehicle_colour": None, "vehicle_make": None, "vehicle_model": None,
                   "no_plate": False},
    "plate_event": {"vehicle_type": None, "vehicle_colour": None, "vehicle_make": None, "vehicle_model": None,
                    "vehicle_bbox": None, "no_plate": False},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_VEHICLE_FIELDS))
def test_vehicle_fields_are_a_backward_compatible_evolution(stack_settings: Settings, name: str) -> None:
    """The schema before the vehicle fields, then the current one: registered as version 2 under
    BACKWARD; a record written with the old one reads with the new one (defaults filled in)."""
    import io
    import struct

    import fastavro

    client = SchemaRegistryClient({"url": stack_settings.kafka.schema_registry_url})
    subject = f"{_unique('it.vehicles')}-value"
    added = _VEHICLE_FIELDS[name]
    old = json.loads(load_schema(name))
    old["fields"] = [f for f in old["fields"] if f["name"] not in added]
    old_id = client.register_schema(subject, Schema(json.dumps(old), "AVRO"))
    assert client.test_compatibility(subject, Schema(load_schema(name), "AVRO")) is True
    new_id = client.register_schema(subject, Schema(load_schema(name), "AVRO"))
    assert new_id != old_id and client.get_versions(subject) == [1, 2]

    record = {k: v for k, v in SAMPLES[name].items() if k not in added}
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", old_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old, named_schemas={}), record)
    assert AvroDecoder(client, reader_schema=name).decode(buf.getvalue()) == {**record, **added}
    # And the current record round-trips with its vehicle fields.
    topic = subject.removesuffix("-value")
    assert AvroDecoder(client).decode(AvroEncoder(client, name, topic).encode(SAMPLES[name])) == SAMPLES[name]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _registry_process(bootstrap: str, topic: str, log_file: Path) -> Iterator[str]:
    """``python -m services.registry`` on a free port; yields its URL; stops it with SIGTERM."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "services.registry", "--port", str(port), "--bootstrap-servers", bootstrap]
    with log_file.open("a") as log:
        process = subprocess.Popen([*argv, "--topic", topic], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_file.read_text()
            try:
                if httpx.get(f"{url}/subjects", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_ids_versions_and_config_survive_a_registry_restart(stack_settings: Settings, tmp_path: Path) -> None:
    bootstrap = stack_settings.kafka.bootstrap_servers
    topic = _unique("_schemas_it")
    log_file = tmp_path / "registry.log"
    with _registry_process(bootstrap, topic, log_file) as url:
        client = SchemaRegistryClient({"url": url})
        crops = client.register_schema("x.crops-value", Schema(load_schema("plate_crop"), "AVRO"))
        alerts = client.register_schema("x.alerts-value", Schema(load_schema("watchlist_alert"), "AVRO"))
        evolved = client.register_schema(
            "x.alerts-value",
            _evolved("watchlist_alert", extra={"name": "lane", "type": ["null", "int"], "default": None}),
        )
        client.set_compatibility("x.crops-value", "FULL")
        data = AvroEncoder(client, "plate_crop", "x.crops").encode(SAMPLES["plate_crop"])

    assert "DEV-ONLY" in log_file.read_text()
    with _registry_process(bootstrap, topic, log_file) as url:
        fresh = SchemaRegistryClient({"url": url})
        assert sorted(fresh.get_subjects()) == ["x.alerts-value", "x.crops-value"]
        assert fresh.get_versions("x.alerts-value") == [1, 2]
        assert fresh.get_latest_version("x.alerts-value").schema_id == evolved
        assert fresh.lookup_schema("x.crops-value", Schema(load_schema("plate_crop"), "AVRO")).schema_id == crops
        assert fresh.get_compatibility("x.crops-value") == "FULL"
        assert AvroDecoder(fresh).decode(data) == SAMPLES["plate_crop"]
        # Same schema -> same id after the restart; a new one gets the next id.
        assert fresh.register_schema("x.alerts-value", Schema(load_schema("watchlist_alert"), "AVRO")) == alerts
        new = fresh.register_schema("x.dead-value", Schema(load_schema("dead_letter"), "AVRO"))
        assert new == max(crops, alerts, evolved) + 1
