"""The plates dataflow against the real services: broker, registry, S3, PostgreSQL, HTTP receiver."""

from __future__ import annotations

import secrets
from datetime import timedelta

import psycopg
import pytest
from bytewax.testing import run_main

from db.watchlists import add_entry, create_watchlist
from flows.plates import build_flow
from flows.sinks.s3 import CropStore
from operators.records import DeadLetter, PlateEvent
from tests.flows import flow_env
from tests.flows.crops import labelled_crops
from tests.flows.receiver import AlertReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver():
    with AlertReceiver(flow_env.SECRET) as r:
        yield r


def test_crops_to_db_s3_kafka_and_alerts_with_bad_messages_dead_lettered(settings, receiver):
    s = flow_env.flow_settings(settings, f"http://127.0.0.1:{receiver.port}")
    plates = [c.plate for c in labelled_crops()]
    cams = [f"cam-{secrets.token_hex(3)}" for _ in range(2)]
    t0 = flow_env.recent()
    with psycopg.connect(settings.database.url.get_secret_value(), autocommit=True) as conn:
        wl = create_watchlist(conn, f"wanted-{cams[0]}", severity="high", channels=flow_env.channel_names(s))
        entry_id = add_entry(conn, wl, plates[1])

    enc = flow_env.crop_encoder(s)
    crops = [
        *flow_env.track_crops(0, cams[0], "run-1", t0),
        *flow_env.track_crops(1, cams[1], "run-1", t0 + timedelta(seconds=1)),
        *flow_env.track_crops(0, cams[0], "run-2", t0 + timedelta(seconds=20)),  # same car again: merges
    ]
    bad = [b"\x00\x00\x00\x00\x01 not a crop", b"plain text, no wire header"]
    values = [(c.camera_id, enc.encode(c.to_avro())) for c in crops]
    flow_env.produce(s, values[:4] + [(cams[0], bad[0])] + values[4:] + [(cams[1], bad[1])])

    run_main(build_flow(s))

    # Dead letters: the original bytes, the reason, and the flow went on past them.
    dead = [DeadLetter.from_avro(r) for r in flow_env.read_topic(s, s.kafka.topics.dead_letter, 2)]
    assert sorted(d.value for d in dead) == sorted(bad)
    assert {d.step for d in dead} == {"decode"} and all(d.reason for d in dead)

    # PostgreSQL: one event per vehicle pass, the repeated pass merged into the first.
    with psycopg.connect(settings.database.url.get_secret_value()) as conn:
        rows = conn.execute(
            "SELECT event_id::text, camera_id, plate, sightings, crop_key, crop_url, provisional "
            "FROM plate_events WHERE camera_id = ANY(%s) ORDER BY camera_id",
            (cams,),
        ).fetchall()
    assert sorted((r[1], r[2], r[3], r[6]) for r in rows) == sorted(
        [
            (cams[0], plates[0], 2, False),
            (cams[1], plates[1], 1, False),
        ]
    )

    # S3: the best crop at the event's key, its URL stored with the event.
    store = CropStore(s.s3)
    for event_id, _cam, plate, _n, key, url, _p in rows:
        assert key.endswith(f"/{event_id}.jpg") and url == store.url(key)
        stat = store.client.stat_object(s.s3.bucket, key)
        assert {k.lower(): v for k, v in stat.metadata.items()}["x-amz-meta-plate"] == plate

    # Kafka: plate events keyed by event id; the final state of each event is what the DB holds.
    published = flow_env.read_topic(s, s.kafka.topics.plates, 3)
    final = {}
    for rec in published:
        event = PlateEvent.from_avro(rec)
        assert rec["key"] == event.event_id.encode()
        final[event.event_id] = event
    assert sorted((e.event_id, e.sightings) for e in final.values()) == sorted((r[0], r[3]) for r in rows)

    # Alerts: the watchlisted plate reached the webhook (HMAC checked by the receiver) and Slack, once each.
    assert receiver.wait_for(2, timeout=20)
    assert receiver.rejected == []
    hook = [d for d in receiver.deliveries if d.path == "/webhook"]
    slack = [d for d in receiver.deliveries if d.path == "/slack"]
    assert len(hook) == 1 and len(slack) == 1
    assert hook[0].payload["plate"] == plates[1] and hook[0].payload["entry_id"] == entry_id
    alerts_topic = flow_env.read_topic(s, s.kafka.topics.alerts, 1)
    assert {a["alert_id"] for a in alerts_topic if a["entry_id"] == entry_id} == {hook[0].alert_id}
