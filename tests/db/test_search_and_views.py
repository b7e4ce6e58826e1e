"""Trigram plate search and the plate_sightings / hourly_counts views, on a populated database."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.db.conftest import STORAGE_PATHS

pytestmark = pytest.mark.integration

# Filler plates (random, 7 characters) plus a few near neighbours of the one we search.
FILLER_ROWS = 5_000
NEIGHBOURS = ("ABC1234", "ABC1284", "A8C1234", "ABC123")


@pytest.fixture(scope="module", params=STORAGE_PATHS)
def populated(request, make_path_database) -> tuple[str, list[tuple]]:
    """A migrated database (each storage path) with FILLER_ROWS random plates and a small, known sample."""
    url = make_path_database(request.param)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sample = [
        # (plate, camera, site, first_seen, sightings, confidence)
        ("ABC1234", "cam-1", "north", hour - timedelta(hours=2, minutes=-5), 3, 0.5),
        ("ABC1234", "cam-2", "south", hour - timedelta(hours=2, minutes=-40), 5, 0.75),
        ("ABC1234", "cam-1", "north", hour - timedelta(days=1), 2, 1.0),
        ("ABC1284", "cam-1", "north", hour - timedelta(hours=2, minutes=-10), 1, 0.25),
        ("A8C1234", "cam-2", "south", hour - timedelta(minutes=-1), 4, 0.5),
        ("ABC123", "cam-3", "south", hour - timedelta(hours=1), 1, 0.5),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy(
            "COPY plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,"
            " plate, plate_raw, confidence, sightings) FROM STDIN"
        ) as copy:
            for n, (plate, camera, site, first_seen, sightings, confidence) in enumerate(sample):
                last_seen = first_seen + timedelta(seconds=30)
                copy.write_row(
                    (
                        uuid.uuid4(),
                        first_seen,
                        last_seen,
                        first_seen,
                        site,
                        camera,
                        f"t{n}",
                        plate,
                        plate,
                        confidence,
                        sightings,
                    )
                )
        # Filler far from the sample: letters only, so never within a few edits of ABC1234.
        conn.execute(
            """
            INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,
                                      plate, plate_raw, confidence, sightings)
            SELECT gen_random_uuid(), t, t, t, 'filler', 'cam-f', 'tf' || g, p, p, 0.9, 1
              FROM generate_series(1, %s) AS g,
                   LATERAL (SELECT %s::timestamptz - (g %% 72) * interval '1 hour' AS t) AS ts,
                   LATERAL (SELECT string_agg(chr(ascii('D') + (random() * 21)::int), '') AS p
                              FROM generate_series(1, 7) WHERE g > 0) AS pl
            """,
            (FILLER_ROWS, hour),
        )
        conn.execute("ANALYZE plate_events")
    return url, sample


def test_trigram_operator_finds_near_plates_only(populated):
    url, _ = populated
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_limit(0.3)")
        found = {r[0] for r in conn.execute("SELECT DISTINCT plate FROM plate_events WHERE plate %% %s", ("ABC1234",))}
        ranked = conn.execute(
            "SELECT plate, similarity(plate, %s) AS s FROM plate_events WHERE plate %% %s"
            " GROUP BY plate ORDER BY s DESC, plate LIMIT 2",
            ("ABC1234", "ABC1234"),
        ).fetchall()
    assert found == set(NEIGHBOURS)
    assert ranked[0] == ("ABC1234", 1.0)


def test_trigram_search_is_served_by_the_gin_index(populated):
    url, _ = populated
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")  # prove the index is usable, whatever the costs
        (plan,) = conn.execute(
            "EXPLAIN (FORMAT JSON) SELECT event_id FROM plate_events WHERE plate %% %s", ("ABC1234",)
        ).fetchone()  # type: ignore[misc]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        indexes = set(_index_names(plan[0]["Plan"]))
        assert indexes, f"no index scan in plan: {plan}"
        definitions = {  # by name: TimescaleDB's chunk indexes are in its internal schema
            name: conn.execute(
                "SELECT pg_get_indexdef(oid) FROM pg_class WHERE relname = %s AND relkind = 'i'", (name,)
            ).fetchone()[0]  # type: ignore[index]
            for name in indexes
        }
    assert all("gin_trgm_ops" in d for d in definitions.values()), definitions


def test_plate_sightings_aggregates_per_plate(populated):
    url, sample = populated
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT first_seen, last_seen, events, sightings, cameras, sites, best_confidence"
            " FROM plate_sightings WHERE plate = 'ABC1234'"
        ).fetchone()
    mine = [s for s in sample if s[0] == "ABC1234"]
    assert row == (
        min(s[3] for s in mine),
        max(s[3] for s in mine) + timedelta(seconds=30),
        3,
        sum(s[4] for s in mine),
        ["cam-1", "cam-2"],
        ["north", "south"],
        pytest.approx(1.0),
    )


def test_hourly_counts_per_camera_and_hour(populated):
    url, sample = populated
    expected: dict[tuple, list[tuple]] = defaultdict(list)
    for _, camera, site, first_seen, sightings, confidence in sample:
        expected[(first_seen.replace(minute=0, second=0, microsecond=0), site, camera)].append((sightings, confidence))
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT hour, site, camera_id, events, sightings, avg_confidence FROM hourly_counts"
            " WHERE camera_id <> 'cam-f' ORDER BY 1, 2, 3"
        ).fetchall()
        filler_total = conn.execute("SELECT sum(events) FROM hourly_counts WHERE camera_id = 'cam-f'").fetchone()
    assert rows == [
        (
            key[0],
            key[1],
            key[2],
            len(vals),
            sum(v[0] for v in vals),
            pytest.approx(sum(v[1] for v in vals) / len(vals)),
        )
        for key, vals in sorted(expected.items())
    ]
    assert filler_total == (FILLER_ROWS,)


def _index_names(node: dict) -> list[str]:
    names = [node["Index Name"]] if "Index Name" in node else []
    for child in node.get("Plans", []):
        names.extend(_index_names(child))
    return names
