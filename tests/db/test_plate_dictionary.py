"""The plate dictionary (migration 0008) on both storage paths: kept exact by the triggers, by
upkeep and by erasure, and plate searches through it give the rows of the direct query.

20 000 synthetic reads over 8 full days (db.synthetic), 2 000 plates, a few operator corrections
and pseudonymised plates. On the TimescaleDB path the compression policy job runs first, so the
oldest chunk is compressed and triggers meet both kinds of chunk.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from api.search import (
    Cursor,
    EventQuery,
    _fetch,
    _set_threshold,
    corrected_events,
    search_rows,
    search_sql,
)
from db.synthetic import ReadSpec, insert_reads, plate_of
from operators.normalise import fold_confusions
from tests.db.conftest import STORAGE_PATHS, days_to_today, upkeep

pytestmark = pytest.mark.integration

DAYS = 8
CONFUSABLE = {"O": "0", "0": "O", "I": "1", "1": "I", "B": "8", "8": "B", "S": "5", "5": "S"}


@pytest.fixture(scope="module", params=STORAGE_PATHS)
def loaded(request, make_path_database) -> tuple[str, str, ReadSpec]:
    """(path, url, spec): reads of the spec, some corrections and hashed plates, upkeep done."""
    spec = days_to_today(20_000, DAYS, 2_000)
    url = make_path_database(request.param)
    with psycopg.connect(url, autocommit=True) as conn:
        assert insert_reads(conn, spec) == spec.rows
        # Corrections: an event found under another plate (and its read under its own).
        conn.execute(
            "INSERT INTO plate_corrections (event_id, plate, previous, actor)"
            " SELECT event_id, 'CR' || lpad(n::text, 2, '0') || 'ABC', plate, 'test'"
            " FROM (SELECT event_id, plate, row_number() OVER (ORDER BY event_id) AS n FROM plate_events"
            " ORDER BY event_id LIMIT 30) AS picked"
        )
        # Pseudonymised plates: stored as #hash, found by exact search with the hash as an alias.
        conn.execute(
            "UPDATE plate_events SET plate = '#' || md5(plate) WHERE plate IN"
            " (SELECT DISTINCT plate FROM plate_events ORDER BY plate LIMIT 20)"
        )
        upkeep(conn, request.param)
    return request.param, url, spec


def _expected_dictionary(conn: psycopg.Connection[Any]) -> dict[str, list[date]]:
    rows = conn.execute(
        "SELECT plate, array_agg(DISTINCT (first_seen AT TIME ZONE 'UTC')::date)"
        " FROM plate_events WHERE plate <> '' GROUP BY plate"
    ).fetchall()
    return {p: list(days) for p, days in rows}


def _dictionary(conn: psycopg.Connection[Any]) -> dict[str, list[date]]:
    return {p: list(days) for p, days in conn.execute("SELECT plate, days FROM plate_dictionary").fetchall()}


def _read_cameras(conn: psycopg.Connection[Any]) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT plate, array_agg(DISTINCT camera_id) FROM plate_events WHERE plate <> '' GROUP BY plate"
    )
    return {p: set(cameras) for p, cameras in rows.fetchall()}


def _cameras(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    return {p: list(c) for p, c in conn.execute("SELECT plate, cameras FROM plate_dictionary").fetchall()}


def _assert_cameras_cover_the_reads(conn: psycopg.Connection[Any], *, exact: bool) -> None:
    """Each plate's cameras: no duplicates, every camera of its reads (``exact``: no other)."""
    listed, read = _cameras(conn), _read_cameras(conn)
    assert listed.keys() == read.keys()
    for plate, cameras in listed.items():
        assert len(cameras) == len(set(cameras)), plate
        assert set(cameras) == read[plate] if exact else set(cameras) >= read[plate], plate


def test_dictionary_holds_every_plate_and_day_of_the_reads(loaded):
    path, url, _ = loaded
    with psycopg.connect(url) as conn:
        expected = _expected_dictionary(conn)
        assert len(expected) > 1_000
        assert _dictionary(conn) == expected
        _assert_cameras_cover_the_reads(conn, exact=True)  # nothing deleted yet: exact
        if path == "timescaledb":
            compressed = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks"
                " WHERE hypertable_name = 'plate_events' AND is_compressed"
            ).fetchone()
            assert compressed is not None and compressed[0] >= 1


def test_triggers_follow_inserts_updates_and_deletes(loaded):
    path, url, spec = loaded
    old = spec.end - timedelta(days=DAYS - 0.5)  # in the oldest (on TimescaleDB: compressed) chunk
    with psycopg.connect(url) as conn:  # one transaction, rolled back
        before = conn.execute("SELECT xmin::text FROM plate_dictionary WHERE plate = %s", (plate_of(5, spec),))
        xmin = before.fetchone()
        # A (plate, day) already known writes nothing.
        conn.execute(
            "INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,"
            " plate, plate_raw, confidence) SELECT gen_random_uuid(), first_seen, last_seen, frame_ts, site,"
            " camera_id, 'again', plate, plate_raw, confidence FROM plate_events WHERE plate = %s LIMIT 1",
            (plate_of(5, spec),),
        )
        assert (
            conn.execute("SELECT xmin::text FROM plate_dictionary WHERE plate = %s", (plate_of(5, spec),)).fetchone()
            == xmin
        )
        # A known (plate, day) read by a new camera: the camera joins the plate's.
        conn.execute(
            "INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,"
            " plate, plate_raw, confidence) SELECT gen_random_uuid(), first_seen, last_seen, frame_ts, site,"
            " 'cam-new', 'again', plate, plate_raw, confidence FROM plate_events WHERE plate = %s LIMIT 1",
            (plate_of(5, spec),),
        )
        assert "cam-new" in _cameras(conn)[plate_of(5, spec)]
        conn.execute("UPDATE plate_events SET camera_id = 'cam-moved' WHERE plate = %s", (plate_of(15, spec),))
        assert "cam-moved" in _cameras(conn)[plate_of(15, spec)]
        conn.execute(
            "INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,"
            " plate, plate_raw, confidence) VALUES (%s, %s, %s, %s, 's', 'c', 't', 'NEW1', 'NEW1', 0.9),"
            " (%s, %s, %s, %s, 's', 'c', 't', '', '', 0.9)",
            (uuid.uuid4(), old, old, old, uuid.uuid4(), old, old, old),
        )
        assert _dictionary(conn) == _expected_dictionary(conn)
        assert "" not in _dictionary(conn)
        conn.execute("UPDATE plate_events SET plate = 'NEW2' WHERE plate = %s", (plate_of(7, spec),))
        if path != "timescaledb":  # a hypertable does not move a row to another chunk
            conn.execute(
                "UPDATE plate_events SET first_seen = first_seen - interval '1 day' WHERE plate = %s",
                (plate_of(9, spec),),
            )
        assert _dictionary(conn) == _expected_dictionary(conn)
        assert plate_of(7, spec) not in _dictionary(conn)
        conn.execute("DELETE FROM plate_events WHERE plate = %s AND first_seen < %s", (plate_of(11, spec), old))
        conn.execute("DELETE FROM plate_events WHERE plate = ANY(%s)", ([plate_of(13, spec), "NEW1"],))
        assert _dictionary(conn) == _expected_dictionary(conn)
        _assert_cameras_cover_the_reads(conn, exact=False)  # deletes leave cameras: a superset
        assert set(_cameras(conn)["NEW2"]) == _read_cameras(conn)["NEW2"]  # the updated reads' cameras
        conn.rollback()


def test_upkeep_removes_expired_days_and_plates(loaded):
    path, url, spec = loaded
    with psycopg.connect(url) as conn:  # rolled back: the reads stay for the other tests
        lines = [r[0] for r in conn.execute("SELECT * FROM alpr_maintain(%s)", (timedelta(days=DAYS - 3),))]
        assert any("dropped" in line for line in lines), lines
        assert any(line.startswith("plate dictionary") for line in lines), lines
        assert _dictionary(conn) == _expected_dictionary(conn)
        _assert_cameras_cover_the_reads(conn, exact=False)  # retention leaves cameras: a superset
        conn.execute("DELETE FROM plate_events")
        conn.execute("SELECT count(*) FROM alpr_plate_dictionary_expire()")
        assert _dictionary(conn) == {}
        conn.rollback()


def _direct(conn: psycopg.Connection[Any], query: EventQuery) -> list[dict[str, Any]]:
    return _fetch(conn, search_sql(query, corrected_events(conn, query)), None)


def _both(conn: psycopg.Connection[Any], query: EventQuery) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    with conn.transaction():
        _set_threshold(conn, query)
        rows, how = search_rows(conn, query)
        return rows, _direct(conn, query), how


def _random_queries(spec: ReadSpec, rng: random.Random, hashed: list[str], n: int) -> list[EventQuery]:
    out: list[EventQuery] = []
    for _ in range(n):
        plate = plate_of(rng.randint(1, spec.rows), spec)
        pos = rng.randrange(len(plate))
        near = plate[:pos] + rng.choice("ABCXYZ0123") + plate[pos + 1 :]
        confused = "".join(CONFUSABLE.get(c, c) if rng.random() < 0.5 else c for c in plate)
        pattern = "".join("?" if rng.random() < 0.25 else c for c in plate)
        pattern = pattern[:3] + "*" + pattern[5:] if rng.random() < 0.5 else pattern
        pattern = pattern if any(c.isalnum() for c in pattern) else plate
        extra: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.25:
            day = spec.end - timedelta(days=rng.uniform(0.5, DAYS))
            extra = {"start": day, "end": day + timedelta(hours=rng.choice([6, 30, 80]))}
        elif roll < 0.35:
            extra = {"camera_ids": (f"cam-{rng.randrange(20):03d}",)}
        elif roll < 0.45:
            extra = {"site": f"site-{rng.randrange(4):02d}"}
        elif roll < 0.55:  # several cameras and a site: the plates' cameras narrow the days further
            cameras = tuple(f"cam-{c:03d}" for c in rng.sample(range(20), 3))
            extra = {"camera_ids": cameras, "site": f"site-{rng.randrange(4):02d}"}
        limit = rng.choice([1, 3, 10, 50])
        out += [
            EventQuery(plate=plate, limit=limit, **extra),
            EventQuery(plate=plate[: rng.randint(2, 6)], match="prefix", limit=limit, **extra),
            EventQuery(plate=pattern, match="wildcard", limit=limit, **extra),
            EventQuery(plate=near, match="fuzzy", max_distance=rng.choice([0, 1, 2]), limit=limit, **extra),
            EventQuery(plate=confused, match="confusion", max_distance=rng.choice([0, 1]), limit=limit, **extra),
        ]
    out += [EventQuery(plate=f"CR{n:02d}ABC", match=m, limit=5) for n in (1, 7) for m in ("exact", "fuzzy")]
    out += [EventQuery(plate=plate_of(3, spec), aliases=(h,), limit=20) for h in hashed[:3]]
    out += [
        EventQuery(plate=plate_of(3, spec), aliases=(h,), camera_ids=(f"cam-{n:03d}",)) for n, h in enumerate(hashed)
    ]
    out += [EventQuery(plate=f"CR{n:02d}ABC", camera_ids=(f"cam-{n:03d}", "cam-001"), limit=5) for n in (1, 7)]
    out += [EventQuery(plate="A", match="prefix", limit=10), EventQuery(plate="*1*", match="wildcard", limit=10)]
    out += [EventQuery(plate=plate_of(8, spec), match="fuzzy", end=spec.end - timedelta(days=DAYS + 1))]
    return out


def test_dictionary_search_gives_the_rows_of_the_direct_query(loaded):
    path, url, spec = loaded
    rng = random.Random(20261206)
    with psycopg.connect(url, autocommit=True) as conn:
        hashed = [r[0] for r in conn.execute("SELECT plate FROM plate_dictionary WHERE plate LIKE '#%' LIMIT 3")]
        assert len(hashed) == 3
        ways: dict[str, int] = {}
        for query in _random_queries(spec, rng, hashed, 60):
            rows, direct, how = _both(conn, query)
            ways[how] = ways.get(how, 0) + 1
            assert rows == direct, (path, query)
            if len(rows) > query.limit:  # the next page too, from the cursor of this one
                last = rows[query.limit - 1]
                cursor = Cursor(last["first_seen"], last["event_id"])
                page2 = EventQuery(**{**_fields(query), "cursor": cursor})
                rows2, direct2, _ = _both(conn, page2)
                assert rows2 == direct2, (path, page2)
        assert ways == {"dictionary": len(_random_queries(spec, random.Random(20261206), hashed, 60))}, ways


def test_too_many_candidates_fall_back_to_the_direct_query(loaded, monkeypatch):
    _, url, spec = loaded
    monkeypatch.setattr("api.search.DICTIONARY_MAX_CANDIDATES", 10)
    with psycopg.connect(url, autocommit=True) as conn:
        few = _both(conn, EventQuery(plate=plate_of(1, spec)[:3], match="prefix", limit=5))
        many = _both(conn, EventQuery(plate="A", match="prefix", limit=5))
    assert few[2] == "dictionary" and few[0] == few[1] and few[0]
    assert many[2] == "direct" and many[0] == many[1] and len(many[0]) == 6


def test_a_confusion_query_finds_the_folded_plate(loaded):
    _, url, spec = loaded
    plate = plate_of(1234, spec)
    with psycopg.connect(url, autocommit=True) as conn:
        rows, direct, how = _both(conn, EventQuery(plate=fold_confusions(plate), match="confusion", max_distance=2))
    assert how == "dictionary" and rows == direct
    assert plate in {r["plate"] for r in rows}


def _fields(query: EventQuery) -> dict[str, Any]:
    names = ("plate", "match", "max_distance", "camera_ids", "site", "start", "end", "limit", "aliases")
    return {n: getattr(query, n) for n in names}
