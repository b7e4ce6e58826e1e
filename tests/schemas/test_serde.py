"""Confluent wire-format codecs against a real (in-process) dev registry over HTTP."""

from __future__ import annotations

import io
import json
import socket
import struct

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import SCHEMA_NAMES, load_schema
from schemas.serde import (
    AvroDecoder,
    AvroEncoder,
    DecodeError,
    EncodeError,
    RegistryUnavailableError,
    subject_for,
)
from tests.schemas.samples import SAMPLES


def _client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url})


@pytest.fixture(scope="module")
def crop_bytes(registry_url: str) -> bytes:
    return AvroEncoder(_client(registry_url), "plate_crop", "serde.crops").encode(SAMPLES["plate_crop"])


@pytest.fixture(scope="module")
def decoder(registry_url: str) -> AvroDecoder:
    return AvroDecoder(_client(registry_url))


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_round_trip_with_separate_clients(registry_url: str, name: str) -> None:
    data = AvroEncoder(_client(registry_url), name, f"serde.{name}").encode(SAMPLES[name])
    assert AvroDecoder(_client(registry_url)).decode(data) == SAMPLES[name]
    assert AvroDecoder(_client(registry_url), reader_schema=name).decode(data) == SAMPLES[name]


def test_interoperates_with_confluent_serializers(registry_url: str) -> None:
    client = _client(registry_url)
    ctx = SerializationContext("serde.interop", MessageField.VALUE)
    theirs = AvroSerializer(client, load_schema("plate_event"))(SAMPLES["plate_event"], ctx)
    ours = AvroEncoder(_client(registry_url), "plate_event", "serde.interop").encode(SAMPLES["plate_event"])
    assert theirs == ours
    assert AvroDecoder(_client(registry_url)).decode(theirs) == SAMPLES["plate_event"]
    assert AvroDeserializer(_client(registry_url))(ours, ctx) == SAMPLES["plate_event"]


def test_wire_header_is_magic_zero_and_the_registered_id(registry_url: str, crop_bytes: bytes) -> None:
    client = _client(registry_url)
    magic, schema_id = struct.unpack(">bI", crop_bytes[:5])
    assert magic == 0
    registered = client.get_latest_version(subject_for("serde.crops"))
    assert registered.schema_id == schema_id
    assert json.loads(client.get_schema(schema_id).schema_str)["name"] == "PlateCrop"


def test_encoders_of_one_schema_share_one_id_and_version(registry_url: str) -> None:
    ids = {AvroEncoder(_client(registry_url), "track_event", "serde.shared").schema_id for _ in range(3)}
    assert len(ids) == 1
    assert _client(registry_url).get_versions("serde.shared-value") == [1]


def test_without_auto_register_the_schema_must_exist(registry_url: str) -> None:
    strict = AvroEncoder(_client(registry_url), "dead_letter", "serde.strict", auto_register=False)
    with pytest.raises(EncodeError, match="not found"):
        strict.encode(SAMPLES["dead_letter"])
    registered = AvroEncoder(_client(registry_url), "dead_letter", "serde.strict").schema_id
    strict = AvroEncoder(_client(registry_url), "dead_letter", "serde.strict", auto_register=False)
    assert strict.schema_id == registered
    assert AvroDecoder(_client(registry_url)).decode(strict.encode(SAMPLES["dead_letter"])) == SAMPLES["dead_letter"]


def test_record_not_matching_its_schema_is_an_encode_error(registry_url: str) -> None:
    encoder = AvroEncoder(_client(registry_url), "track_event", "serde.bad")
    record = {**SAMPLES["track_event"], "kind": "MIDDLE"}
    with pytest.raises(EncodeError, match="track_event"):
        encoder.encode(record)
    missing = {k: v for k, v in SAMPLES["track_event"].items() if k != "camera_id"}
    with pytest.raises(EncodeError):
        encoder.encode(missing)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: b"", "shorter than the 5-byte"),
        (lambda d: d[:3], "shorter than the 5-byte"),
        (lambda d: b"\x01" + d[1:], "magic byte 1"),
        (lambda d: b'{"camera_id": "cam-1"}', "magic byte 123"),
        (lambda d: d[:5] + d[5:40], "truncated"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d + b"\x00", "trailing bytes"),
        (lambda d: b"\x00" + struct.pack(">I", 987654) + d[5:], "987654"),
    ],
    ids=["empty", "short", "magic-1", "json", "cut-body", "cut-last-byte", "trailing", "unknown-id"],
)
def test_malformed_bytes_are_decode_errors(registry_url: str, crop_bytes: bytes, mutate, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as caught:
        AvroDecoder(_client(registry_url)).decode(mutate(crop_bytes))
    assert caught.value.reason


def test_non_bytes_input_is_a_decode_error(registry_url: str) -> None:
    with pytest.raises(DecodeError, match="expected bytes"):
        AvroDecoder(_client(registry_url)).decode("not bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), keep=st.integers(0, 64))
def test_corrupt_bodies_decode_or_raise_decode_error(decoder: AvroDecoder, crop_bytes: bytes, body, keep) -> None:
    # A valid header followed by a damaged body: never a library exception, never a hang.
    data = crop_bytes[: 5 + keep] + body
    try:
        record = decoder.decode(data)
    except DecodeError:
        return
    assert set(record) == set(SAMPLES["plate_crop"])


def test_reader_schema_fills_defaults_of_fields_an_older_writer_lacked(registry_url: str) -> None:
    client = _client(registry_url)
    old = json.loads(load_schema("plate_crop"))
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("vehicle_track_id", "vehicle_bbox")]
    schema_id = client.register_schema("serde.evolve-value", Schema(json.dumps(old), "AVRO"))
    record = {k: v for k, v in SAMPLES["plate_crop"].items() if k not in ("vehicle_track_id", "vehicle_bbox")}
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", schema_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old, named_schemas={}), record)

    assert "vehicle_bbox" not in AvroDecoder(client).decode(buf.getvalue())
    decoded = AvroDecoder(client, reader_schema="plate_crop").decode(buf.getvalue())
    assert decoded == {**record, "vehicle_track_id": None, "vehicle_bbox": None}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_registry_is_not_a_decode_error(crop_bytes: bytes) -> None:
    client = SchemaRegistryClient({"url": f"http://127.0.0.1:{_closed_port()}", "max.retries": 0})
    with pytest.raises(RegistryUnavailableError, match="unreachable"):
        AvroDecoder(client).decode(crop_bytes)
    with pytest.raises(RegistryUnavailableError):
        AvroEncoder(client, "plate_crop", "serde.down").encode(SAMPLES["plate_crop"])
