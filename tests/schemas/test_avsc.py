"""Every ``schemas/*.avsc``: parses, follows the house rules, round-trips its records."""

from __future__ import annotations

import io
import json
from pathlib import Path

import avro.schema
import fastavro
import pytest
from hypothesis import given, settings

from config.settings import TopicSettings
from schemas import SCHEMA_NAMES, TOPIC_SCHEMAS, load_schema
from tests.schemas.avro_strategies import records

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

EXPECTED_RECORDS = {
    "plate_crop": "io.alpr.edge.PlateCrop",
    "track_event": "io.alpr.edge.TrackEvent",
    "plate_event": "io.alpr.plates.PlateEvent",
    "watchlist_alert": "io.alpr.alerts.WatchlistAlert",
    "dead_letter": "io.alpr.common.DeadLetter",
}


def _fields(name: str) -> dict[str, dict]:
    return {f["name"]: f for f in json.loads(load_schema(name))["fields"]}


def test_every_avsc_file_is_known_and_every_topic_has_a_schema() -> None:
    assert {p.stem for p in SCHEMA_DIR.glob("*.avsc")} == set(SCHEMA_NAMES)
    assert set(TOPIC_SCHEMAS) == set(TopicSettings.model_fields)


def test_unknown_schema_name_is_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match="plate_crop"):
        load_schema("plate_crops")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_parses_with_both_avro_libraries_and_has_the_contract_name(name: str) -> None:
    text = load_schema(name)
    parsed = fastavro.parse_schema(json.loads(text), named_schemas={})
    assert parsed["name"] == EXPECTED_RECORDS[name]
    assert avro.schema.parse(text).fullname == EXPECTED_RECORDS[name]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_fields_are_documented_and_optionals_default_to_null(name: str) -> None:
    schema = json.loads(load_schema(name))
    assert schema["doc"]
    for field in schema["fields"]:
        assert field.get("doc"), f"{name}.{field['name']} has no doc"
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and "default" in field and field["default"] is None, field


@pytest.mark.parametrize(
    ("name", "timestamps"),
    [
        ("plate_crop", {"frame_ts", "published_ts"}),
        ("track_event", {"ts"}),
        ("plate_event", {"first_seen", "last_seen", "frame_ts"}),
        ("watchlist_alert", {"observed_at"}),
        ("dead_letter", {"ts"}),
    ],
)
def test_timestamps_are_long_timestamp_millis(name: str, timestamps: set[str]) -> None:
    fields = _fields(name)
    for field in timestamps:
        assert fields[field]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    others = {n for n, f in fields.items() if isinstance(f["type"], dict) and "logicalType" in f["type"]}
    assert others == timestamps


def test_contract_details() -> None:
    crop = _fields("plate_crop")
    assert crop["image_format"]["default"] == "jpeg"
    assert crop["vehicle_bbox"]["type"] == ["null", "Box"]
    assert [f["name"] for f in crop["bbox"]["type"]["fields"]] == ["x", "y", "w", "h"]
    assert _fields("track_event")["kind"]["type"]["symbols"] == ["START", "END"]
    assert _fields("watchlist_alert")["match_type"]["type"]["symbols"] == ["EXACT", "REGEX", "FUZZY"]
    assert _fields("watchlist_alert")["channels"]["type"] == {"type": "array", "items": "string"}
    assert _fields("dead_letter")["value"]["type"] == ["null", "bytes"]


def _round_trip(name: str, record: dict) -> dict:
    parsed = fastavro.parse_schema(json.loads(load_schema(name)), named_schemas={})
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, parsed, None)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_records_round_trip(name: str) -> None:
    @settings(max_examples=40, deadline=None)
    @given(record=records(load_schema(name)))
    def check(record: dict) -> None:
        assert _round_trip(name, record) == record

    check()
