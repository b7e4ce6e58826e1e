"""PostgreSQL sink: idempotent writes against the real database (the pure helpers: tests/db/test_events.py)."""

from __future__ import annotations

import dataclasses
import socket
import time
from datetime import timedelta

import psycopg
import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from db.alerts import AlertRecord
from flows.sinks.postgres import PlateEventSink, PostgresWriter, RejectedReadSink, RetryPolicy, SinkError
from operators.records import Box, DeadLetter, Vehicle
from tests.fixtures.proxy import TcpProxy
from tests.flows.sink_records import make_event, make_hit, make_rejected, unique_camera

# --- against PostgreSQL -----------------------------------------------------------------

integration = pytest.mark.integration


@pytest.fixture
def writer(database_url):
    dead: list[DeadLetter] = []
    w = PostgresWriter(database_url, name="test-sink", dead_letters=dead.append)
    w.dead = dead  # type: ignore[attr-defined]
    yield w
    w.close()


def _rows(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _events(url: str, camera: str):
    return _rows(
        url,
        "SELECT event_id::text, plate, sightings, provisional, last_seen, crop_key, crop_url, updated_at "
        "FROM plate_events WHERE camera_id = %s ORDER BY first_seen",
        camera,
    )


@integration
def test_replayed_batch_stores_each_event_once_and_changes_nothing(writer, database_url):
    cam = unique_camera()
    batch = [make_event(cam, f"run-{i}", first=i) for i in range(5)]
    assert writer.write_events(batch) == 5
    before = _events(database_url, cam)
    assert writer.write_events(batch) == 0  # replay: no row inserted or changed
    assert _events(database_url, cam) == before  # updated_at untouched too
    assert [r[0] for r in before] == [e.event_id for e in batch]


@integration
def test_dedup_update_upserts_the_same_row_and_a_stale_replay_does_not_revert_it(writer, database_url):
    cam = unique_camera()
    v1 = make_event(cam, provisional=True, crop_key="k1", crop_url="http://s3/k1")
    v2 = dataclasses.replace(v1, provisional=False, plate="ABC128")
    v3 = dataclasses.replace(
        v2, sightings=3, last_seen=v2.last_seen + timedelta(minutes=2), crop_key=None, crop_url=None
    )
    for version in (v1, v2, v3):
        assert writer.write_events([version]) == 1
    assert writer.write_events([v1, v2]) == 0  # replay of older versions after a restart
    [(event_id, plate, sightings, provisional, last_seen, crop_key, crop_url, _)] = _events(database_url, cam)
    assert (event_id, plate, sightings, provisional) == (v1.event_id, "ABC128", 3, False)
    assert last_seen == v3.last_seen
    assert (crop_key, crop_url) == ("k1", "http://s3/k1")  # an update without a crop keeps the stored one


@integration
def test_event_and_its_update_in_one_batch(writer, database_url):
    cam = unique_camera()
    v1 = make_event(cam)
    v2 = dataclasses.replace(v1, sightings=2)
    assert writer.write_events([v1, v2, v1]) == 1
    assert [r[2] for r in _events(database_url, cam)] == [2]


@integration
def test_vehicle_columns_and_no_plate_events(writer, database_url):
    cam = unique_camera()
    car = Vehicle("r-cam-v-1", Box(10, 20, 300, 200), "car", "white")
    read = dataclasses.replace(make_event(cam, "run-1"), vehicle=car)
    unread = dataclasses.replace(make_event(cam, "run-2", first=5), plate="", plate_raw="", confidence=0.0,
                                 no_plate=True, vehicle=Vehicle("r-cam-v-2", None, "truck", "red"))  # fmt: skip
    assert writer.write_events([read, unread]) == 2
    rows = _rows(
        database_url,
        "SELECT plate, vehicle_type, vehicle_colour, vehicle_make, vehicle_bbox, no_plate FROM plate_events "
        "WHERE camera_id = %s ORDER BY first_seen",
        cam,
    )
    assert rows == [
        (read.plate, "car", "white", None, [10, 20, 300, 200], False),
        ("", "truck", "red", None, None, True),
    ]
    # An update that learned the vehicle's colour better changes the row.
    assert writer.write_events([dataclasses.replace(read, vehicle=dataclasses.replace(car, colour="grey"))]) == 1
    colour = _rows(database_url, "SELECT vehicle_colour FROM plate_events WHERE event_id = %s", read.event_id)
    assert colour == [("grey",)]
    sightings = _rows(database_url, "SELECT plate FROM plate_sightings WHERE %s = ANY(cameras)", cam)
    assert sightings == [(read.plate,)], "no-plate events are not a plate"


@integration
def test_rejected_reads_are_stored_once(writer, database_url):
    cam = unique_camera()
    reads = [
        make_rejected(cam, "run-1"),
        make_rejected(cam, "run-2", "Z", "too_short"),
        make_rejected(cam, "run-1"),
    ]
    assert writer.write_rejected(reads) == 2
    assert writer.write_rejected(reads) == 0
    rows = _rows(
        database_url,
        "SELECT track_id, plate_raw, reason FROM rejected_reads WHERE camera_id = %s ORDER BY track_id",
        cam,
    )
    assert rows == [("run-1", "A1", "too_short"), ("run-2", "Z", "too_short")]


@integration
def test_alerts_and_pending_deliveries_are_written_once(writer, database_url):
    cam = unique_camera()
    event = make_event(cam, crop_url="http://s3/crop.jpg")
    hit = make_hit(event, channels=("hook", "nowhere"))
    record = AlertRecord(hit, channels=("hook",), unknown_channels=("nowhere",))
    new = writer.write_alerts([record, record])
    assert sorted((d.channel, d.status) for d in new) == [("hook", "pending"), ("nowhere", "failed")]
    assert writer.write_alerts([record]) == []  # replay
    assert _rows(database_url, "SELECT count(*) FROM alerts WHERE alert_id = %s", hit.alert_id) == [(1,)]
    rows = _rows(
        database_url,
        "SELECT channel, status, attempts, last_error IS NOT NULL FROM alert_deliveries "
        "WHERE alert_id = %s ORDER BY channel",
        hit.alert_id,
    )
    assert rows == [("hook", "pending", 0, False), ("nowhere", "failed", 0, True)]
    # The alert's event is stored with it, so the delivery finds its crop URL.
    assert [r[6] for r in _events(database_url, cam)] == ["http://s3/crop.jpg"]


@integration
def test_rows_the_database_refuses_are_isolated_and_dead_lettered(writer, database_url):
    cam = unique_camera()
    good = [make_event(cam, f"run-{i}", first=i) for i in range(4)]
    bad = make_event(cam, "run-bad", plate="NUL\x00", first=9)  # PostgreSQL text cannot hold NUL
    assert writer.write_events([*good[:2], bad, *good[2:]]) == 4
    assert len(_events(database_url, cam)) == 4
    [dead] = writer.dead
    assert dead.step == "postgres:plate_events" and dead.key == bad.event_id.encode()
    assert b'"plate":"NUL' in dead.value and dead.error_type


@integration
def test_refused_row_without_dead_letter_callback_raises(database_url):
    with PostgresWriter(database_url, name="test-sink-raise") as w:
        with pytest.raises(SinkError, match="refused a row"):
            w.write_events([make_event(unique_camera(), plate="X\x00")])


@integration
def test_a_killed_connection_is_replaced_and_the_batch_written(writer, database_url):
    cam = unique_camera()
    writer.write_events([make_event(cam, "run-0")])
    killed = _rows(
        database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-sink'",
    )
    assert killed and all(k[0] for k in killed)
    assert writer.write_events([make_event(cam, "run-1", first=1)]) == 1
    assert len(_events(database_url, cam)) == 2


@integration
def test_unreachable_database_is_retried_until_it_answers_and_recovery_is_prompt(database_url):
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    forwarder = TcpProxy((info.get("host") or "127.0.0.1", int(info.get("port") or 5432)))
    url = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=forwarder.port)
    waits: list[float] = []
    began = time.monotonic()
    back: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        # The database is back after an outage longer than the pool's own reconnect window.
        if not back and time.monotonic() - began > 7:
            forwarder.start()
            back.append(time.monotonic())
        time.sleep(0.05)

    cam = unique_camera()
    try:
        with PostgresWriter(
            url,
            name="test-sink-down",
            sleep=sleep,
            connect_timeout_s=1,
            retry=RetryPolicy(initial_s=0.1, max_s=0.4),
        ) as w:
            assert w.write_events([make_event(cam)]) == 1
            recovered_after = time.monotonic() - back[0]
    finally:
        forwarder.stop()
    assert waits[:4] == [0.1, 0.2, 0.4, 0.4]  # exponential, capped
    assert recovered_after < 3.5, recovered_after
    assert len(_events(database_url, cam)) == 1


@integration
def test_unreachable_database_gives_up_only_when_told(database_url):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    url = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=port)
    with PostgresWriter(
        url,
        name="test-sink-gone",
        sleep=lambda s: None,
        connect_timeout_s=0.5,
        retry=RetryPolicy(give_up_s=1.0),
    ) as w:
        with pytest.raises(SinkError, match="database unavailable"):
            w.write_events([make_event(unique_camera())])


@integration
def test_bytewax_sinks_write_events_and_rejected_reads(database_url):
    cam = unique_camera()
    events = [make_event(cam, f"run-{i}", first=i) for i in range(3)]
    updated = dataclasses.replace(events[0], sightings=2)
    flow = Dataflow("sink_test")
    op.output(
        "events",
        op.input("in", flow, TestingSource([*events, updated, *events])),
        PlateEventSink(database_url),
    )
    rejected = [make_rejected(cam, "run-9")] * 2
    op.output("rejected", op.input("rin", flow, TestingSource(rejected)), RejectedReadSink(database_url))
    run_main(flow)
    assert [r[2] for r in _events(database_url, cam)] == [2, 1, 1]
    assert _rows(database_url, "SELECT count(*) FROM rejected_reads WHERE camera_id = %s", cam) == [(1,)]


@integration
def test_a_row_too_large_for_the_index_is_dead_lettered_not_retried_forever(database_url):
    # Defect 4 of issue 12: a 10,000-character camera_id raised ProgramLimitExceeded (index row
    # too large), an OperationalError the sink took for an outage: it retried forever and
    # nothing after it was stored.
    import random
    import string

    cam = unique_camera()
    long_camera = "".join(random.choices(string.ascii_letters + string.digits, k=10_000))
    bad = make_event(long_camera, "run-bad", first=1)
    good = [make_event(cam, f"run-{i}", first=i) for i in range(3)]
    dead: list[DeadLetter] = []
    retries: list[float] = []

    def sleep(seconds: float) -> None:
        retries.append(seconds)
        if len(retries) > 20:
            raise AssertionError("the sink is retrying a row error as if it were an outage")

    with PostgresWriter(database_url, name="test-sink-big", dead_letters=dead.append, sleep=sleep) as w:
        assert w.write_events([good[0], bad, *good[1:]]) == 3
    assert len(_events(database_url, cam)) == 3 and retries == []
    [letter] = dead
    assert letter.step == "postgres:plate_events" and letter.error_type == "ProgramLimitExceeded"
    assert letter.key == bad.event_id.encode() and len(letter.reason) < 2100


@integration
def test_an_outage_is_still_retried_and_the_rows_kept(database_url):
    # The other side of the rule: a server that stops answering is an outage, never a row error.
    killed: list[int] = []
    cam = unique_camera()

    def sleep(seconds: float) -> None:
        time.sleep(0.05)

    with PostgresWriter(database_url, name="test-sink-outage", sleep=sleep) as w:
        w.write_events([make_event(cam, "run-0")])
        killed = _rows(
            database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-sink-outage'",
        )
        assert w.write_events([make_event(cam, "run-1", first=1)]) == 1
    assert killed and len(_events(database_url, cam)) == 2
