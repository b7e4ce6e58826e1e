"""Background crop uploads: events leave in arrival order once their crop is stored; pending
reads are the snapshot and upload again after a restart; real S3 for the uploads themselves."""

from __future__ import annotations

import pickle
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta

import pytest
from bytewax.operators import StatefulLogic

from flows.sinks.s3 import CropStore
from flows.steps.store_crop import BackgroundUploads, CropUploads
from operators.records import PlateEvent, PlateRead
from tests.flows.sink_records import T0, make_plate_read, unique_camera


class Uploads:
    """``submit`` whose uploads the test finishes by hand, in any order."""

    def __init__(self) -> None:
        self.started: list[tuple[PlateRead, Future[PlateEvent]]] = []

    def __call__(self, read: PlateRead) -> Future[PlateEvent]:
        f: Future[PlateEvent] = Future()
        self.started.append((read, f))
        return f

    def finish(self, i: int) -> PlateEvent:
        read, f = self.started[i]
        event = PlateEvent.from_read(read, crop_key=f"k{i}", crop_url=f"u{i}")
        f.set_result(event)
        return event


def reads(n: int) -> list[PlateRead]:
    return [make_plate_read("cam-1", f"run-{i}", first=i) for i in range(n)]


def test_events_leave_in_arrival_order_once_their_uploads_are_done():
    up = Uploads()
    logic = CropUploads(up, poll_s=0.005, now=lambda: T0)
    r = reads(3)
    assert logic.on_item(r[0]) == ([], StatefulLogic.RETAIN)
    assert logic.on_item(r[1]) == ([], StatefulLogic.RETAIN)
    assert logic.notify_at() == T0 + timedelta(seconds=0.005)
    e1 = up.finish(1)
    assert logic.on_notify() == ([], StatefulLogic.RETAIN)  # the first one is still uploading
    e0 = up.finish(0)
    assert logic.on_notify() == ([e0, e1], StatefulLogic.DISCARD)  # nothing left: state dropped
    assert logic.notify_at() is None
    assert all(e.crop_url for e in (e0, e1))


def test_pending_reads_are_the_snapshot_and_upload_again_after_a_restart():
    up = Uploads()
    logic = CropUploads(up)
    r = reads(2)
    logic.on_item(r[0])
    logic.on_item(r[1])
    up.finish(0)
    state = pickle.loads(pickle.dumps(logic.snapshot()))
    assert state == (r[0], r[1])  # done but not emitted yet: still owed downstream
    again = Uploads()
    resumed = CropUploads(again, state)
    assert [read for read, _ in again.started] == [r[0], r[1]]
    events = [again.finish(0), again.finish(1)]
    assert resumed.on_notify() == (events, StatefulLogic.DISCARD)


def test_end_of_input_waits_for_every_upload():
    store = [PlateEvent.from_read(r) for r in reads(2)]
    futures = [Future() for _ in store]
    it = iter(futures)
    logic = CropUploads(lambda _r: next(it))
    for r in reads(2):
        logic.on_item(r)
    for f, e in zip(futures, store, strict=True):
        f.set_result(e)
    assert logic.on_eof() == (store, StatefulLogic.DISCARD)


@pytest.fixture(scope="module")
def store(stack_settings):
    s = CropStore(stack_settings.s3)
    yield s
    s.close()


@pytest.mark.integration
def test_background_uploads_store_finals_and_wanted_provisional_crops(store):
    cam = unique_camera()
    uploads = BackgroundUploads(lambda: store, threads=2, max_in_flight=2, provisional_crop=lambda e: e.plate == "HIT1")
    final = make_plate_read(cam, "run-1", "FIN1", image=b"final")
    hit = replace(
        make_plate_read(cam, "run-2", "HIT1"),
        read=replace(make_plate_read(cam, "run-2", "HIT1").read, provisional=True),
    )
    miss = replace(hit, plate="MISS1", read=replace(hit.read, track_id="run-3"))
    futures = [uploads(r) for r in (final, hit, miss, final, final)]  # more than max_in_flight: waits, no deadlock
    events = [f.result(timeout=30) for f in futures]
    assert events[0].crop_key and events[1].crop_key and events[2].crop_key is None
    obj = store.client.get_object(store.bucket, events[0].crop_key)
    try:
        assert obj.read() == b"final"
    finally:
        obj.close()
        obj.release_conn()
