"""Avro Kafka outputs against the real broker and registry."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from flows.sinks.dead_letters import KafkaDeadLetterPublisher
from flows.sinks.kafka import (
    DEDUP_HEADER,
    ID_HEADER,
    AvroKafkaSink,
    alerts_topic_sink,
    dead_letter_sink,
    plate_events_sink,
)
from operators.records import DeadLetter, PlateEvent, WatchlistEntry, WatchlistHit
from tests.flows import flow_env

pytestmark = pytest.mark.integration


def event(camera: str, track: str, at) -> PlateEvent:
    return PlateEvent(
        event_id=PlateEvent.make_id(camera, track, at), camera_id=camera, site="s", track_id=track,
        plate="ABC123", plate_raw="ABC 123", confidence=0.5, region="US", first_seen=at,
        last_seen=at + timedelta(seconds=1), frame_ts=at, sightings=1, crop_key=None, crop_url=None,
        provisional=False,
    )  # fmt: skip


def test_plate_events_are_published_as_avro_keyed_by_event_id_with_a_dedup_header(settings):
    s = flow_env.flow_settings(settings)
    t0 = flow_env.recent()
    events = [event("cam-a", "t1", t0), event("cam-b", "t2", t0)]
    update = dataclasses.replace(events[0], sightings=2, last_seen=t0 + timedelta(seconds=5))
    part = plate_events_sink(s).build("events_kafka", 0, 1)
    part.write_batch([*events, events[0], update])  # a replay of the first, then an update of it
    part.close()
    got = flow_env.read_topic(s, s.kafka.topics.plates, 4)
    assert [(r["key"], PlateEvent.from_avro(r)) for r in got] == [
        (e.event_id.encode(), e) for e in [*events, events[0], update]
    ]
    keys = [r["headers"][DEDUP_HEADER] for r in got]
    assert keys[0] == keys[2]  # the replay carries the same de-duplication key: drop it
    assert len({keys[0], keys[1], keys[3]}) == 3  # another event, and an update, do not
    assert all(r["headers"][ID_HEADER] == r["key"] for r in got)
    # The documented consumer (docs/flow.md) keeps each version once.
    assert [PlateEvent.from_avro(r) for r in _consume_once(got)] == [*events, update]


def _consume_once(records):
    seen: set[bytes] = set()
    for r in records:
        key = r["headers"][DEDUP_HEADER]
        if key not in seen:
            seen.add(key)
            yield r


def test_alerts_are_keyed_by_alert_id_with_a_dedup_header(settings):
    s = flow_env.flow_settings(settings)
    ev = event("cam-a", "t1", flow_env.recent())
    entry = WatchlistEntry(7, 1, "list", "ABC123", "exact")
    hit = WatchlistHit(ev, entry)
    again = WatchlistHit(dataclasses.replace(ev, sightings=3), entry)  # an update re-raises the alert
    part = alerts_topic_sink(s).build("alerts_kafka", 0, 1)
    part.write_batch([hit, again])
    part.close()
    got = flow_env.read_topic(s, s.kafka.topics.alerts, 2)
    assert [r["key"] for r in got] == [hit.alert_id.encode()] * 2
    assert [r["headers"][DEDUP_HEADER] for r in got] == [hit.alert_id.encode()] * 2
    assert len(list(_consume_once(got))) == 1


def test_an_oversized_dead_letter_is_published_cut_with_the_reason(settings):
    # Defect 2 of issue 12: a crops message over ~1 MB that failed decoding was dead-lettered with
    # its original bytes; the broker refused it (MSG_SIZE_TOO_LARGE) and the flow exited, forever.
    s = flow_env.flow_settings(settings)
    huge = DeadLetter(
        s.kafka.topics.crops, 0, 5, b"cam-1", b"\x01" * 3_000_000, "decode", "magic byte", "DecodeError",
        flow_env.recent(),
    )  # fmt: skip
    part = dead_letter_sink(s).build("dead_letters_out", 0, 1)
    part.write_batch([huge])
    part.close()
    [got] = flow_env.read_topic(s, s.kafka.topics.dead_letter, 1)
    letter = DeadLetter.from_avro(got)
    limit = s.limits.dead_letter_bytes
    assert len(letter.key) + len(letter.value) <= limit and letter.value == huge.value[: len(letter.value)]
    assert letter.reason.startswith("magic byte") and "value cut from 3000000 to" in letter.reason
    assert (letter.step, letter.offset) == ("decode", 5)


def test_the_dead_letter_publisher_cuts_oversized_letters_too(settings):
    s = flow_env.flow_settings(settings)
    huge = DeadLetter("", -1, -1, b"evt", b"\xff" * 2_000_000, "s3:crops", "s3 down", "CropStoreError",
                      flow_env.recent())  # fmt: skip
    publisher = KafkaDeadLetterPublisher(s)
    publisher(huge)
    publisher.close()
    [got] = flow_env.read_topic(s, s.kafka.topics.dead_letter, 1)
    assert "value cut from 2000000 to" in DeadLetter.from_avro(got).reason


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
