"""``PlateCrop.from_avro``: its fast path gives exactly what the field-by-field path (``_from_mapping``) gives."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.records import Box, PlateCrop, RecordError

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def avro_dict(**over: object) -> dict:
    d = PlateCrop(
        camera_id="cam-1",
        site="lot",
        track_id="t1",
        crop_id="cam-1:t1:0",
        frame_index=3,
        frame_ts=T0,
        published_ts=T0 + timedelta(milliseconds=20),
        bbox=Box(1, 2, 30, 40),
        frame_width=1920,
        frame_height=1080,
        det_confidence=0.875,
        quality=0.5,
        sharpness=12.0,
        image=b"\xff\xd8jpeg",
    ).to_avro()
    d.update(over)
    return d


def same(a: PlateCrop, b: PlateCrop) -> bool:
    return a == b and all(type(getattr(a, f)) is type(getattr(b, f)) for f in PlateCrop.__dataclass_fields__)


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"vehicle_track_id": "v9"},
        {"vehicle_bbox": {"x": 0, "y": 0, "w": 5, "h": 5}},  # rare: the validated path
        {"frame_ts": 1_777_636_800_000},  # epoch millis: the validated path
        {"frame_ts": T0.astimezone(timezone(timedelta(hours=2)))},  # converted to UTC there
        {"quality": 1},  # an int: coerced to float there
        {"image": bytearray(b"x")},
        {"sharpness": -3.5},
        {"det_confidence": 0.0, "quality": 1.0},
    ],
)
def test_valid_records_build_the_same_crop(over):
    d = avro_dict(**over)
    assert same(PlateCrop.from_avro(d), PlateCrop._from_mapping(d))


@pytest.mark.parametrize(
    "over",
    [
        {"camera_id": ""},
        {"site": 5},
        {"frame_index": -1},
        {"frame_index": True},
        {"frame_ts": datetime(2026, 1, 1)},  # noqa: DTZ001 (naive on purpose)
        {"quality": 1.5},
        {"det_confidence": math.nan},
        {"sharpness": math.inf},
        {"bbox": {"x": 0, "y": 0, "w": -1, "h": 5}},
        {"bbox": {"x": 0, "y": 0, "w": 1}},
        {"frame_width": -2},
        {"image": "text"},
        {"image_format": ""},
        {"vehicle_track_id": 7},
    ],
)
def test_invalid_records_raise_the_same_error(over):
    d = avro_dict(**over)
    with pytest.raises(RecordError) as slow:
        PlateCrop._from_mapping(d)
    with pytest.raises(RecordError) as fast:
        PlateCrop.from_avro(d)
    assert str(fast.value) == str(slow.value)


def test_missing_field_and_non_mapping_raise_the_same_error():
    d = avro_dict()
    del d["crop_id"]
    for bad in (d, ["not", "a", "dict"]):
        with pytest.raises(RecordError) as slow:
            PlateCrop._from_mapping(bad)
        with pytest.raises(RecordError) as fast:
            PlateCrop.from_avro(bad)
        assert str(fast.value) == str(slow.value)


@given(
    quality=st.floats(allow_nan=True, allow_infinity=True),
    sharpness=st.floats(allow_nan=True, allow_infinity=True),
    frame_index=st.integers(-3, 3),
    w=st.integers(-2, 2),
    camera=st.text(max_size=2),
)
def test_fast_path_never_accepts_what_the_validated_path_refuses(quality, sharpness, frame_index, w, camera):
    d = avro_dict(
        quality=quality,
        sharpness=sharpness,
        frame_index=frame_index,
        camera_id=camera,
        bbox={"x": 0, "y": 0, "w": w, "h": 1},
    )
    try:
        slow = PlateCrop._from_mapping(d)
    except RecordError as exc:
        with pytest.raises(RecordError) as fast:
            PlateCrop.from_avro(d)
        assert str(fast.value) == str(exc)
    else:
        assert same(PlateCrop.from_avro(d), slow)
