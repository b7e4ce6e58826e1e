"""Avro Kafka outputs against the real broker and registry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows.kafka_out import AvroKafkaSink, plate_events_sink
from operators.records import DeadLetter, PlateEvent
from tests.flows import flow_env

pytestmark = pytest.mark.integration


def event(camera: str, track: str, at) -> PlateEvent:
    return PlateEvent(
        event_id=PlateEvent.make_id(camera, track, at), camera_id=camera, site="s", track_id=track,
        plate="ABC123", plate_raw="ABC 123", confidence=0.5, region="US", first_seen=at,
        last_seen=at + timedelta(seconds=1), frame_ts=at, sightings=1, crop_key=None, crop_url=None,
        provisional=False,
    )  # fmt: skip


def test_plate_events_are_published_as_avro_keyed_by_camera(settings):
    s = flow_env.flow_settings(settings)
    t0 = flow_env.recent()
    events = [event("cam-a", "t1", t0), event("cam-b", "t2", t0)]
    part = plate_events_sink(s).build("events_kafka", 0, 1)
    part.write_batch(events)
    part.close()
    got = flow_env.read_topic(s, s.kafka.topics.plates, 2)
    assert [(r["key"], PlateEvent.from_avro(r)) for r in got] == [(e.camera_id.encode(), e) for e in events]


def test_a_record_that_does_not_fit_its_schema_is_dead_lettered_and_the_rest_published(settings):
    s = flow_env.flow_settings(settings)
    good = event("cam-a", "t1", flow_env.recent())
    dead: list[DeadLetter] = []
    sink = AvroKafkaSink(
        s, s.kafka.topics.plates, "plate_event", lambda x: "cam-a",
        lambda x: x.to_avro() if isinstance(x, PlateEvent) else {"event_id": "missing everything else"},
        dead_letters=dead.append,
    )  # fmt: skip
    part = sink.build("events_kafka", 0, 1)
    part.write_batch(["not an event", good])
    part.close()
    assert [(d.step, d.error_type, d.value) for d in dead] == [
        (f"kafka_out:{s.kafka.topics.plates}", "EncodeError", b"'not an event'")
    ]
    assert [PlateEvent.from_avro(r) for r in flow_env.read_topic(s, s.kafka.topics.plates, 1)] == [good]
