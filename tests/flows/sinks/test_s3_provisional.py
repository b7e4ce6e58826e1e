"""Crop store: a provisional read stores its crop only when asked (watchlist hits), to the real S3."""

from __future__ import annotations

from dataclasses import replace

import pytest
from minio.error import S3Error

from flows.sinks.s3 import CropStore, crop_key
from tests.flows.sink_records import make_plate_read, unique_camera


@pytest.fixture(scope="module")
def store(stack_settings):
    s = CropStore(stack_settings.s3)
    yield s
    s.close()


def provisional(read):
    return replace(read, read=replace(read.read, provisional=True))


def stored(store: CropStore, key: str) -> bool:
    try:
        store.client.stat_object(store.bucket, key)
    except S3Error as exc:
        if exc.code == "NoSuchKey":
            return False
        raise
    return True


@pytest.mark.integration
def test_provisional_crops_are_stored_only_when_wanted_finals_always(store):
    cam = unique_camera()
    wanted = provisional(make_plate_read(cam, "run-1", "WANT1"))
    skipped = provisional(make_plate_read(cam, "run-2", "SKIP2"))
    final = make_plate_read(cam, "run-3", "SKIP3")
    events = store.events_from_reads([wanted, skipped, final], provisional_crop=lambda e: e.plate == "WANT1")
    assert [e.track_id for e in events] == ["run-1", "run-2", "run-3"]
    want, skip, fin = events
    assert want.provisional and want.crop_key and stored(store, want.crop_key)
    assert skip.provisional and skip.crop_key is None and skip.crop_url is None
    assert not stored(store, crop_key(cam, skip.event_id, skip.first_seen))
    assert not fin.provisional and fin.crop_key and stored(store, fin.crop_key)
    # Without the predicate every read stores its crop (the default).
    (again,) = store.events_from_reads([skipped])
    assert again.crop_key == crop_key(cam, skip.event_id, skip.first_seen) and stored(store, again.crop_key)
