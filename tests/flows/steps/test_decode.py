"""The decode step: the crop decoder: valid messages become PlateCrops, everything else a DeadLetter with its bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

from flows.steps.decode import CropDecoder, Decode
from operators.records import DeadLetter, PlateCrop
from schemas.serde import AvroDecoder, AvroEncoder
from tests.flows.crops import make_crop

TOPIC = "alpr.edge.crops"
NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry() -> MockSchemaRegistryClient:
    # confluent-kafka's in-memory registry: these tests are about the decoder, not the registry
    # (the integration tests use the real one).
    return MockSchemaRegistryClient({"url": "mock://flows-source"})


@pytest.fixture(scope="module")
def encoder(registry) -> AvroEncoder:
    return AvroEncoder(registry, "plate_crop", TOPIC)


@pytest.fixture
def decoder(registry) -> CropDecoder:
    return CropDecoder(lambda: AvroDecoder(registry, reader_schema="plate_crop"), registry_retry_s=0, now=lambda: NOW)


def msg(value: bytes | None, key: bytes | None = b"cam-1", offset: int = 7) -> KafkaSourceMessage:
    return KafkaSourceMessage(key=key, value=value, topic=TOPIC, partition=2, offset=offset)


def test_valid_message_decodes_to_the_same_crop(decoder, encoder):
    crop = make_crop(b"\xff\xd8jpeg", quality=0.75)
    out = decoder.decode(msg(encoder.encode(crop.to_avro())))
    assert out == crop


def _bad_record(encoder: AvroEncoder) -> bytes:
    record = make_crop(b"x").to_avro()
    record["quality"] = 1.5  # fits the Avro float, fails the record's [0, 1] check
    return encoder.encode(record)


@pytest.mark.parametrize(
    ("make_value", "step", "error_type", "reason_part"),
    [
        (lambda enc: None, "decode", "DecodeError", "tombstone"),
        (lambda enc: b"", "decode", "DecodeError", "shorter than"),
        (lambda enc: b"\x01\x00\x00\x00\x01abc", "decode", "DecodeError", "magic byte"),
        (lambda enc: b"\x00\x00\x00\x7f\x7f" + b"\x02" * 20, "decode", "DecodeError", "schema id"),
        (lambda enc: enc.encode(make_crop(b"x").to_avro())[:12], "decode", "DecodeError", "truncated"),
        (lambda enc: b"not avro at all, just text", "decode", "DecodeError", "magic byte"),
        (_bad_record, "validate", "RecordError", "quality"),
    ],
    ids=["tombstone", "empty", "magic", "unknown-schema", "truncated", "text", "invalid-record"],
)
def test_bad_messages_become_dead_letters_with_original_bytes(
    decoder, encoder, make_value, step, error_type, reason_part
):
    value = make_value(encoder)
    out = decoder.decode(msg(value))
    assert isinstance(out, DeadLetter)
    assert (out.step, out.error_type) == (step, error_type)
    assert reason_part in out.reason
    assert (out.source_topic, out.partition, out.offset) == (TOPIC, 2, 7)
    assert out.key == b"cam-1"
    assert out.value == value
    assert out.ts == NOW


def test_consumer_errors_become_dead_letters(decoder):
    err = ConfluentKafkaError(ConfluentKafkaError._MSG_TIMED_OUT, "broker said no")
    out = decoder.decode(KafkaError(err, msg(b"\x00raw", offset=-1)))
    assert isinstance(out, DeadLetter)
    assert (out.step, out.error_type, out.offset, out.value) == ("consume", "KafkaError", -1, b"\x00raw")


def test_the_step_keys_crops_by_track_and_passes_dead_letters(decoder, encoder):
    crop = make_crop(b"img")
    outs = Decode(decoder)([msg(b"junk"), msg(encoder.encode(crop.to_avro()))])
    assert type(outs[0]) is DeadLetter
    assert outs[1] == (f"{crop.camera_id}:{crop.track_id}", crop)


def test_decoder_keeps_working_after_bad_messages(decoder, encoder):
    crop = make_crop(b"img")
    values = (b"junk", encoder.encode(crop.to_avro()), None, encoder.encode(crop.to_avro()))
    outs = decoder([msg(v) for v in values])  # the flow's batch call
    assert [type(o) for o in outs] == [DeadLetter, PlateCrop, DeadLetter, PlateCrop]


def _crop_with(**fields):
    return lambda enc: enc.encode({**make_crop(b"img").to_avro(), **fields})


@pytest.mark.parametrize(
    ("make_value", "reason_part"),
    [
        (_crop_with(camera_id="cam\x00-1"), "camera_id holds the non-printable character U+0000"),
        (_crop_with(camera_id="cam-1\n"), "camera_id holds the non-printable character U+000A"),
        (_crop_with(site="si\x00te"), "site holds the non-printable character U+0000"),
        (_crop_with(track_id="t\u202eevil"), "track_id holds the non-printable character U+202E"),
        (_crop_with(camera_id="c" * 10_000), "camera_id is 10000 characters long; at most 128"),
        (_crop_with(crop_id="x" * 600), "crop_id is 600 characters long"),
        (_crop_with(image=b"\xff" * (4 * 1024 * 1024 + 1)), "image is 4194305 bytes"),
        (_crop_with(frame_ts=datetime(2100, 1, 1, tzinfo=UTC)), "ahead of the flow's clock"),
    ],
    ids=[
        "nul-camera",
        "newline-camera",
        "nul-site",
        "bidi-track",
        "long-camera",
        "long-crop-id",
        "huge-image",
        "far-future",
    ],
)
def test_hostile_strings_sizes_and_times_are_dead_lettered_at_decode(decoder, encoder, make_value, reason_part):
    # Defects 3, 4 and 5 of issue 12: such crops reached S3 metadata headers (obstore panic),
    # the plate_events index (ProgramLimitExceeded, retried forever) and the dedup watermark.
    value = make_value(encoder)
    out = decoder.decode(msg(value))
    assert isinstance(out, DeadLetter), out
    assert (out.step, out.error_type) == ("validate", "TextError")
    assert reason_part in out.reason and len(out.reason) < 300
    assert out.value == value


def test_a_crop_slightly_ahead_of_the_clock_is_accepted(decoder, encoder):
    crop = make_crop(b"img", at=NOW + timedelta(seconds=60))  # edge clock a minute fast
    assert decoder.decode(msg(encoder.encode(crop.to_avro()))) == crop
