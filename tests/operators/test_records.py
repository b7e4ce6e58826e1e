"""Records: validation on construction, Avro dict round trips, deterministic ids."""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.plate_band import Band
from operators.records import (
    BANDS,
    Box,
    DeadLetter,
    OcrRead,
    PlateCrop,
    PlateEvent,
    PlateRead,
    RecordError,
    RejectedRead,
    WatchlistEntry,
    WatchlistHit,
    to_millis,
)
from tests.operators.builders import T0, make_crop, make_track_read


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"camera_id": ""}, "PlateCrop.camera_id must not be empty"),
        ({"frame_ts": datetime(2026, 1, 1)}, "PlateCrop.frame_ts must be tz-aware"),  # noqa: DTZ001
        ({"quality": 1.5}, "PlateCrop.quality must be in [0, 1], got 1.5"),
        ({"quality": float("nan")}, "PlateCrop.quality must be a finite number"),
        ({"frame_index": -1}, "PlateCrop.frame_index must be >= 0"),
        ({"frame_index": True}, "PlateCrop.frame_index must be an int"),
        ({"bbox": (1, 2, 3, 4)}, "PlateCrop.bbox must be a Box"),
        ({"image": "not bytes"}, "PlateCrop.image must be bytes"),
        ({"band": "blue"}, "PlateCrop.band must be one of present, absent, unknown or null, got 'blue'"),
    ],
)
def test_plate_crop_rejects_bad_values(changes, message):
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        replace(make_crop(), **changes)


def test_box_rejects_negative_size():
    with pytest.raises(RecordError, match="Box.w must be >= 0, got -1"):
        Box(0, 0, -1, 3)


def test_datetimes_are_normalised_to_utc():
    plus2 = timezone(timedelta(hours=2))
    crop = replace(make_crop(), frame_ts=datetime(2026, 3, 1, 14, 0, tzinfo=plus2))
    assert crop.frame_ts == T0 and crop.frame_ts.tzinfo is UTC


def test_plate_crop_key_and_avro_round_trip():
    crop = replace(make_crop(3), vehicle_track_id="veh-9", vehicle_bbox=Box(0, 0, 300, 200))
    assert crop.key == "cam-1:run-1"
    assert PlateCrop.from_avro(crop.to_avro()) == crop


@pytest.mark.parametrize("band", [None, *BANDS])
def test_the_band_the_edge_saw_round_trips_on_both_decoding_paths(band):
    crop = replace(make_crop(3), band=band)
    assert PlateCrop.from_avro(crop.to_avro()).band == band  # the checked fast path
    d = crop.to_avro()
    d["frame_ts"] = to_millis(T0)  # another shape: field by field
    assert PlateCrop.from_avro(d).band == band
    old = crop.to_avro()
    del old["band"]  # an older edge's record, as a mapping without the field
    assert PlateCrop.from_avro(old).band is None
    assert set(BANDS) == {b.value for b in Band}
    bad = crop.to_avro() | {"band": "BLUE"}
    with pytest.raises(RecordError, match="PlateCrop.band must be one of"):
        PlateCrop.from_avro(bad)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("crop_id"), "missing field 'crop_id'"),
        (lambda d: d.update(bbox=None), "PlateCrop.bbox: Box: expected a mapping, got NoneType"),
        (lambda d: d.update(bbox={"x": 1}), "PlateCrop.bbox: Box: missing field 'y'"),
        (lambda d: d.update(quality="high"), "PlateCrop.quality must be a finite number"),
        (
            lambda d: d.update(vehicle_bbox=[1, 2]),
            "PlateCrop.vehicle_bbox: Box: expected a mapping, got list",
        ),
    ],
)
def test_plate_crop_from_avro_errors_name_the_field(mutate, message):
    d = make_crop().to_avro()
    mutate(d)
    with pytest.raises(RecordError, match=message):
        PlateCrop.from_avro(d)


@pytest.mark.parametrize("value", [None, [], "crop", 3])
def test_plate_crop_from_avro_rejects_non_mappings(value):
    with pytest.raises(RecordError, match="PlateCrop: expected a mapping"):
        PlateCrop.from_avro(value)


def test_from_avro_accepts_epoch_millis():
    d = make_crop().to_avro()
    d["frame_ts"] = to_millis(T0)
    assert PlateCrop.from_avro(d).frame_ts == T0


@settings(deadline=None)
@given(
    quality=st.floats(0, 1),
    frame_index=st.integers(0, 2**40),
    ms=st.integers(0, 4_000_000_000_000),
    image=st.binary(max_size=64),
    vehicle=st.none() | st.text(min_size=0, max_size=8),
)
def test_plate_crop_avro_round_trip_property(quality, frame_index, ms, image, vehicle):
    ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    crop = replace(
        make_crop(),
        quality=quality,
        frame_index=frame_index,
        frame_ts=ts,
        image=image,
        vehicle_track_id=vehicle,
    )
    assert PlateCrop.from_avro(crop.to_avro()) == crop


@pytest.mark.parametrize(
    ("text", "chars", "ok"),
    [
        ("", (), True),
        ("AB1", (), True),
        ("AB1", (0.9, 0.8, 0.7), True),
        ("AB1", (0.9, 0.8), False),
        ("AB1", (0.9, 0.8, 1.2), False),
    ],
)
def test_ocr_read_char_confidences(text, chars, ok):
    if ok:
        assert OcrRead("c", text, 0.5, list(chars)).char_confidences == chars
    else:
        with pytest.raises(RecordError, match="OcrRead.char_confidences"):
            OcrRead("c", text, 0.5, chars)


@pytest.mark.parametrize(
    ("crop_id", "text", "conf", "chars"),
    [
        ("c", "", 0.0, ()),
        ("c", "AB1", 0.5, (0.9, 0.8, 0.7)),
        ("c", "AB1", 1, ()),  # an int confidence: coerced by the constructor
        ("c", "AB1", 0.5, [0.9, 0.8, 0.7]),  # a list: coerced to a tuple
        ("c", "AB1", 0.5, (0.9, 0.8)),  # wrong count
        ("c", "AB1", 0.5, (0.9, 0.8, 1.2)),  # out of range
        ("c", "AB1", float("nan"), ()),
        ("", "AB1", 0.5, ()),
        ("c", None, 0.5, ()),
    ],
)
def test_ocr_read_make_equals_the_constructor(crop_id, text, conf, chars):
    try:
        expected = OcrRead(crop_id, text, conf, chars)
    except RecordError as exc:
        with pytest.raises(RecordError, match=re.escape(str(exc))):
            OcrRead.make(crop_id, text, conf, chars)
    else:
        made = OcrRead.make(crop_id, text, conf, chars)
        assert made == expected and type(made.confidence) is float and type(made.char_confidences) is tuple


def test_track_read_rejects_last_before_first():
    with pytest.raises(RecordError, match="TrackRead.last_seen .* is before first_seen"):
        make_track_read(first=2.0, last=1.0)


@pytest.mark.parametrize("plate", ["", "ab12", "AB-12", "ÄB12"])
def test_plate_read_requires_normalised_plate(plate):
    with pytest.raises(RecordError, match="PlateRead.plate"):
        PlateRead(make_track_read(), plate, "x", None, "generic")


def test_rejected_read_reason_is_checked():
    assert RejectedRead(make_track_read(""), "empty").plate_raw == ""
    with pytest.raises(RecordError, match="RejectedRead.reason must be one of"):
        RejectedRead(make_track_read(), "bad")  # type: ignore[arg-type]


def _event(**changes) -> PlateEvent:
    read = PlateRead(make_track_read("ab-123"), "AB123", "ab-123", "US", "us_generic")
    return replace(PlateEvent.from_read(read, crop_key="k", crop_url="http://s3/k"), **changes)


def test_event_id_is_deterministic_per_camera_track_and_first_seen():
    a, b = _event(), PlateEvent.from_read(PlateRead(make_track_read("AB123"), "AB123", "AB123", None, "g"))
    assert a.event_id == b.event_id
    assert uuid.UUID(a.event_id).version == 5
    assert a.event_id != PlateEvent.make_id("cam-1", "run-2", T0)
    assert a.event_id != PlateEvent.make_id("cam-1", "run-1", T0 + timedelta(milliseconds=1))
    # Sub-millisecond differences are lost in Avro, so they must not change the id.
    assert a.event_id == PlateEvent.make_id("cam-1", "run-1", T0 + timedelta(microseconds=300))


def test_plate_event_from_read_and_avro_round_trip():
    ev = _event()
    assert (ev.plate, ev.plate_raw, ev.region, ev.sightings, ev.frame_ts) == ("AB123", "ab-123", "US", 1, T0)
    assert PlateEvent.from_avro(ev.to_avro()) == ev


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_id": "nope"}, "PlateEvent.event_id must be a uuid"),
        ({"sightings": 0}, "PlateEvent.sightings must be >= 1"),
        ({"provisional": 1}, "PlateEvent.provisional must be a bool"),
    ],
)
def test_plate_event_rejects_bad_values(changes, message):
    with pytest.raises(RecordError, match=message):
        _event(**changes)


def test_watchlist_entry_validates_regex_and_expiry():
    with pytest.raises(RecordError, match=r"WatchlistEntry.pattern '\[AB' \(entry 7\) is not a valid regex"):
        WatchlistEntry(7, 1, "stolen", "[AB", "regex")
    with pytest.raises(RecordError, match="match_type must be one of"):
        WatchlistEntry(7, 1, "stolen", "AB", "prefix")  # type: ignore[arg-type]
    entry = WatchlistEntry(7, 1, "stolen", "AB123", "exact", expires_at=T0, channels=["slack"])
    assert entry.channels == ("slack",)
    assert entry.expired(T0) and not entry.expired(T0 - timedelta(seconds=1))


def test_watchlist_hit_alert_id_and_avro():
    ev = _event(frame_ts=T0 + timedelta(milliseconds=500))
    entry = WatchlistEntry(7, 1, "stolen", "AB12", "fuzzy", max_distance=1, severity="high", channels=("slack",))
    hit = WatchlistHit(ev, entry, 1)
    assert hit.alert_id == WatchlistHit(replace(ev, sightings=3), entry, 1).alert_id
    assert hit.alert_id != WatchlistHit(ev, replace(entry, entry_id=8), 1).alert_id
    d = hit.to_avro()
    assert d["match_type"] == "FUZZY" and d["entry_id"] == 7 and d["observed_at"] == T0 + timedelta(milliseconds=500)
    assert d["channels"] == ["slack"] and d["crop_url"] == "http://s3/k" and d["event_id"] == ev.event_id


def test_dead_letter_round_trip():
    dl = DeadLetter("alpr.edge.crops", 0, 42, None, bytearray(b"\x00bad"), "decode", "bad magic", "SerdeError", T0)
    assert dl.value == b"\x00bad"
    assert DeadLetter.from_avro(dl.to_avro()) == dl


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        ("plate_crop", replace(make_crop(2), vehicle_bbox=Box(1, 2, 3, 4), vehicle_track_id="v1")),
        ("plate_event", _event()),
        ("dead_letter", DeadLetter("alpr.edge.crops", -1, -1, b"k", None, "decode", "bad", "ValueError", T0)),
    ],
)
def test_to_avro_round_trips_through_the_schema(schema, record):
    fastavro = pytest.importorskip("fastavro")
    from schemas import load_schema

    parsed = fastavro.parse_schema(json.loads(load_schema(schema)))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record.to_avro())
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, parsed, parsed)
    if isinstance(record, PlateCrop | PlateEvent):
        # Avro floats are 32-bit: compare the decoded record field by field, floats approximately.
        back = type(record).from_avro(decoded)
        for name in record.__dataclass_fields__:
            want, got = getattr(record, name), getattr(back, name)
            assert got == (pytest.approx(want, rel=1e-6) if isinstance(want, float) else want), name
    else:
        assert DeadLetter.from_avro(decoded) == record


def test_watchlist_alert_fits_its_schema():
    fastavro = pytest.importorskip("fastavro")
    from schemas import load_schema

    parsed = fastavro.parse_schema(json.loads(load_schema("watchlist_alert")))
    entry = WatchlistEntry(7, 1, "stolen", "AB.*", "regex", channels=("slack", "webhook"))
    d = WatchlistHit(_event(), entry).to_avro()
    assert fastavro.validation.validate(d, parsed)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, d)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, parsed, parsed) == d
