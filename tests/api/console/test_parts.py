"""The console's pure parts, and search over corrections and wildcards through the REST API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from api.console.feed import parse_cursor
from api.console.pages.common import safe_next
from api.console.pages.search import _cell
from api.search import EventQuery, SearchError, wildcard_pattern
from tests.api.conftest import insert_event


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("ab-1*", "AB1%"), ("?BC 123", "_BC123"), ("*7*", "%7%"), ("lzw9715", "LZW9715")],
)
def test_wildcards_become_like_patterns_of_normalised_text(text, pattern):
    assert wildcard_pattern(text) == pattern
    assert EventQuery(plate=text, match="wildcard").normalised == pattern


def test_a_wildcard_alone_is_refused():
    with pytest.raises(SearchError):
        EventQuery(plate="**?", match="wildcard")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/search?plate=A", "/console/search?plate=A"),
        ("//evil.example/console/", "/console/live"),
        ("https://evil.example/console/", "/console/live"),
        ("/console/\\evil", "/console/live"),
        (None, "/console/live"),
    ],
)
def test_sign_in_only_returns_to_console_pages(target, expected):
    assert safe_next(target) == expected


def test_live_cursor_round_trip_and_garbage():
    when = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    assert parse_cursor(f"{when.isoformat()}|0b5c") == when
    assert parse_cursor("not a time|x") is None and parse_cursor("2026-01-02T03:04:05|x") is None
    assert parse_cursor(None) is None


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_csv_cells_cannot_become_formulas(cell):
    assert _cell(cell).startswith("'")


@pytest.mark.integration
def test_the_api_finds_a_corrected_event_under_both_plates_and_by_wildcard(reader, db):
    from api.corrections import correct

    tag = secrets.token_hex(3).upper()
    read, truth = f"Q{tag}8", f"Q{tag}B"
    event_id = insert_event(db, plate=read, camera_id=f"cam-{tag}", first_seen=datetime.now(UTC))
    correct(db, event_id, truth, actor="test")
    for plate, match in ((read, "exact"), (truth, "exact"), (f"Q{tag}?", "wildcard"), (f"Q{tag[:2]}*", "wildcard")):
        items = reader.get("/events", params={"plate": plate, "match": match}).json()["items"]
        assert [i["event_id"] for i in items] == [str(event_id)], (plate, match)
    fuzzy = reader.get("/events", params={"plate": f"Q{tag}B", "match": "confusion", "max_distance": 0}).json()
    assert [i["distance"] for i in fuzzy["items"]] == [0.0]
