"""S3 crop store: deterministic keys (pure), then uploads to the real local S3."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone

import pytest

from config.settings import S3Settings
from flows.sinks.s3 import CropStore, CropStoreError, crop_key
from operators.records import DeadLetter
from tests.flows.sink_records import make_event, make_plate_read, unique_camera


@pytest.mark.parametrize(
    ("camera", "first_seen", "fmt", "key"),
    [
        ("cam-1", datetime(2026, 3, 1, 23, 59, tzinfo=UTC), "jpeg", "crops/2026/03/01/cam-1/E.jpg"),
        # The date is the UTC date, whatever the offset of the datetime.
        (
            "cam-1",
            datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "jpeg",
            "crops/2026/03/01/cam-1/E.jpg",
        ),
        ("gate/north 2", datetime(2026, 12, 31, tzinfo=UTC), "PNG", "crops/2026/12/31/gate_north_2/E.png"),
        ("../etc", datetime(2026, 1, 5, tzinfo=UTC), "jpg", "crops/2026/01/05/.._etc/E.jpg"),
    ],
)
def test_crop_key_is_deterministic_and_safe(camera, first_seen, fmt, key):
    assert crop_key(camera, "E", first_seen, fmt) == key
    assert crop_key(camera, "E", first_seen, fmt) == crop_key(camera, "E", first_seen, fmt)


@pytest.fixture(scope="module")
def store(stack_settings):
    dead: list[DeadLetter] = []
    s = CropStore(stack_settings.s3, dead_letters=dead.append)
    s.dead = dead  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.mark.integration
def test_crop_is_stored_at_its_key_with_metadata_and_the_event_carries_it(store, stack_settings):
    cam = unique_camera()
    read = make_plate_read(cam, image=b"\xff\xd8\xff\xe0first")
    event = store.event_from_read(read)
    assert event.crop_key == crop_key(cam, event.event_id, event.first_seen)
    assert event.crop_url == f"http://{stack_settings.s3.endpoint}/{store.bucket}/{event.crop_key}"
    obj = store.client.get_object(store.bucket, event.crop_key)
    try:
        assert obj.read() == b"\xff\xd8\xff\xe0first"
    finally:
        obj.close()
        obj.release_conn()
    stat = store.client.stat_object(store.bucket, event.crop_key)
    meta = {k.lower(): v for k, v in stat.metadata.items()}
    assert stat.content_type == "image/jpeg"
    assert meta["x-amz-meta-camera"] == cam
    assert meta["x-amz-meta-plate"] == "ABC123"
    assert meta["x-amz-meta-event-id"] == event.event_id
    assert meta["x-amz-meta-first-seen"] == event.first_seen.isoformat()


@pytest.mark.integration
def test_replay_overwrites_the_same_object(store):
    cam = unique_camera()
    first = store.event_from_read(make_plate_read(cam, image=b"one"))
    again = store.event_from_read(make_plate_read(cam, image=b"two"))  # replay / better crop of one event
    assert again.crop_key == first.crop_key
    keys = [
        o.object_name
        for o in store.client.list_objects(store.bucket, prefix="crops/", recursive=True)
        if f"/{cam}/" in o.object_name
    ]
    assert keys == [first.crop_key]
    obj = store.client.get_object(store.bucket, first.crop_key)
    try:
        assert obj.read() == b"two"
    finally:
        obj.close()
        obj.release_conn()


@pytest.mark.integration
def test_batch_upload_keeps_order(store):
    cam = unique_camera()
    reads = [make_plate_read(cam, f"run-{i}", first=i, image=bytes([i])) for i in range(6)]
    events = store.events_from_reads(reads)
    assert [e.track_id for e in events] == [f"run-{i}" for i in range(6)]
    assert all(e.crop_key and e.crop_key.endswith(f"{e.event_id}.jpg") for e in events)


@pytest.mark.integration
def test_missing_bucket_is_created(stack_settings):
    s3 = stack_settings.s3.model_copy(update={"bucket": f"alpr-test-{unique_camera('b')}"})
    store = CropStore(s3)
    event = store.store(make_event(unique_camera()), b"img")
    assert store.client.bucket_exists(s3.bucket) and event.crop_key


def test_unreachable_s3_dead_letters_the_crop_and_the_event_goes_on():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    dead: list[DeadLetter] = []
    waits: list[float] = []
    store = CropStore(
        S3Settings(endpoint=f"127.0.0.1:{port}"),
        dead_letters=dead.append,
        attempts=3,
        sleep=waits.append,
        timeout_s=1,
    )
    event = make_event(unique_camera())
    out = store.store(event, b"crop-bytes")
    assert out == event and out.crop_key is None
    assert waits == [0.2, 0.4]
    [letter] = dead
    assert letter.step == "s3:crops" and letter.value == b"crop-bytes" and letter.key == event.event_id.encode()
    assert "after 3 attempts" in letter.reason
    with pytest.raises(CropStoreError):
        CropStore(S3Settings(endpoint=f"127.0.0.1:{port}"), attempts=1).store(event, b"x")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("camera", "site"),
    [("cam\x00nul", "default"), ("cam-newline\n", "default"), ("cam-ok", "si\x00te"), ("caméra-ü", "sité\r\n")],
    ids=["nul-camera", "newline-camera", "nul-site", "non-ascii-crlf"],
)
def test_ids_with_control_or_non_ascii_characters_are_stored_with_encoded_metadata(store, camera, site):
    # Defect 3 of issue 12: a NUL or newline in camera_id (or a NUL in site) went into the S3
    # metadata headers; obstore panicked (PanicException, invalid header value), uncaught, and the
    # flow exited at every restart.
    import dataclasses
    from urllib.parse import unquote

    event = dataclasses.replace(make_event(unique_camera()), camera_id=camera, site=site)
    out = store.store(event, b"\xff\xd8crop")
    assert out.crop_key is not None, store.dead
    stat = store.client.stat_object(store.bucket, out.crop_key)
    meta = {k.lower(): v for k, v in stat.metadata.items()}
    assert unquote(meta["x-amz-meta-camera"]) == camera and unquote(meta["x-amz-meta-site"]) == site


@pytest.mark.integration
def test_a_crop_that_failed_during_an_s3_outage_is_uploaded_later_and_linked_to_its_event(settings):
    # Defect 9 of issue 12: after ~3 s of retries the event was stored without its crop, and the
    # crop lived only in the dead-letter topic: no re-upload path, the event never got it.
    import psycopg

    from flows.crop_retries import CropRetries
    from flows.sinks.postgres import PostgresWriter
    from tests.fixtures.proxy import TcpProxy

    url = settings.database.url.get_secret_value()
    host, port = settings.s3.endpoint.split(":")
    dead: list[DeadLetter] = []
    with TcpProxy((host, int(port))) as s3_link:
        retries = CropRetries(url, poll_s=3600)  # rounds run by hand below
        store = CropStore(
            settings.s3.model_copy(update={"endpoint": s3_link.address}),
            dead_letters=dead.append, attempts=2, sleep=lambda s: None, timeout_s=1, retries=retries,
        )  # fmt: skip
        try:
            store.ensure_bucket()
            s3_link.stop()  # the outage
            event = store.event_from_read(make_plate_read(unique_camera(), image=b"\xff\xd8late"))
            assert event.crop_key is None and dead == []  # kept in PostgreSQL, not only dead-lettered
            with PostgresWriter(url, name="test-crop-retry") as w:
                w.write_events([event])  # the flow stores the event without its crop
            assert retries.run_once(store._retry_put, store.url) == 0  # still down: nothing lost
            s3_link.start()  # back: the next due round stores and links it (backoff: 1 s after a failure)
            import time

            deadline = time.monotonic() + 10
            while retries.run_once(store._retry_put, store.url) == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            store.close()
    with psycopg.connect(url) as conn:
        key, crop_url = conn.execute(
            "SELECT crop_key, crop_url FROM plate_events WHERE event_id = %s", (event.event_id,)
        ).fetchone()
        left = conn.execute("SELECT count(*) FROM crop_retries WHERE event_id = %s", (event.event_id,)).fetchone()
    assert key == crop_key(event.camera_id, event.event_id, event.first_seen) and crop_url.endswith(key)
    assert left == (0,)
    obj = CropStore(settings.s3).client.get_object(settings.s3.bucket, key)
    try:
        assert obj.read() == b"\xff\xd8late"
    finally:
        obj.close()
        obj.release_conn()
