"""Edge records -> Avro dicts that fit schemas/*.avsc (fastavro round trip) and config validation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.edge import CameraSettings, EdgeSettings
from config.load import ConfigError, load_settings
from edge.records import Box, TrackEvent, TrackEventKind, box_from_xyxy, plate_crop, utc
from schemas import load_schema

REPO = Path(__file__).resolve().parents[2]


def _roundtrip(schema_name: str, record: dict) -> dict:
    schema = fastavro.parse_schema(json.loads(load_schema(schema_name)))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, schema, schema)


@given(
    ts=st.floats(1e9, 4e9),
    quality=st.floats(0, 1),
    vehicle=st.booleans(),
    image=st.binary(min_size=1, max_size=64),
)
def test_plate_crop_fits_its_schema(ts: float, quality: float, vehicle: bool, image: bytes) -> None:
    crop = plate_crop(
        camera_id="cam",
        site="s",
        track_id="r-1",
        frame_index=7,
        frame_ts=ts,
        published_ts=ts + 0.2,
        bbox=Box(1, 2, 3, 4),
        frame_width=1920,
        frame_height=1080,
        det_confidence=0.5,
        quality=quality,
        sharpness=10.0,
        image=image,
        vehicle_track_id="r-v-1" if vehicle else None,
        vehicle_bbox=Box(0, 0, 10, 10) if vehicle else None,
    )
    back = _roundtrip("plate_crop", crop.to_avro())
    assert back["crop_id"] == "cam:r-1:7" and back["image"] == image
    assert abs(back["frame_ts"].timestamp() - ts) < 0.001 and back["frame_ts"] == crop.frame_ts == utc(ts)
    assert (back["vehicle_bbox"] is not None) is vehicle


def test_track_event_fits_its_schema() -> None:
    ev = TrackEvent("cam", "s", "r-1", TrackEventKind.END, 1.7e9, None, 0.7, 12, 3)
    back = _roundtrip("track_event", ev.to_avro())
    assert back["kind"] == "END" and back["bbox"] is None and back["crops_published"] == 3


def test_records_reject_bad_values() -> None:
    with pytest.raises(ValueError, match=r"Box\.w must be >= 0"):
        Box(0, 0, -1, 5)
    with pytest.raises(ValueError, match="quality"):
        plate_crop(
            camera_id="c", site="s", track_id="t", frame_index=0, frame_ts=0.0, published_ts=0.0,
            bbox=Box(0, 0, 1, 1), frame_width=1, frame_height=1, det_confidence=0.5, quality=1.5,
            sharpness=0.0, image=b"x",
        )  # fmt: skip
    assert box_from_xyxy((10.4, 20.6, 50.5, 40.2)) == Box(10, 21, 40, 19)


def test_camera_config_validation() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        CameraSettings(id="a", url="x", roi=((0, 0), (1, 1)))
    with pytest.raises(ValueError, match="repeated: a"):
        EdgeSettings(cameras=(CameraSettings(id="a", url="x"), CameraSettings(id="a", url="y")))
    with pytest.raises(ValueError, match="extra"):
        CameraSettings(id="a", url="x", fps=3)


def test_shipped_cameras_yaml_loads(tmp_path: Path) -> None:
    settings = load_settings(REPO / "config" / "default.yaml", REPO / "config" / "cameras.yaml")
    (cam,) = settings.edge.cameras
    assert (REPO / cam.url).is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("edge:\n  tracker:\n    lost_buffer_frames: 30\n")
    with pytest.raises(ConfigError, match="edge.tracker.lost_buffer_frames"):
        load_settings(bad)
