"""db.synthetic: the plate of each row is known without the database, and the SQL agrees."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.synthetic import PLATE_SPACE, ReadSpec, camera_of, insert_reads, plate_of, plate_text, time_of

END = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "rows must be >= 1"),
        ({"rows": 1, "end": datetime(2026, 3, 1)}, "must carry a time zone"),  # noqa: DTZ001 - the bad value
        ({"rows": 1, "span": timedelta(0)}, "span must be positive"),
        ({"rows": 1, "cameras": 2, "sites": 3}, "sites <= cameras"),
        ({"rows": 1, "plates": PLATE_SPACE + 1}, "plates must be"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReadSpec(**{"end": END, **kwargs})


@given(st.integers(0, PLATE_SPACE - 1))
def test_plates_look_like_uk_plates(k):
    assert re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z]{3}", plate_text(k))


def test_plate_numbers_map_to_distinct_plates():
    assert len({plate_text(k) for k in range(50_000)}) == 50_000


def test_rows_are_spread_over_plates_cameras_and_time():
    spec = ReadSpec(rows=20_000, end=END, cameras=50, plates=2_000)
    assert len({plate_of(i, spec) for i in range(1, spec.rows + 1)}) > 1_900
    assert len({camera_of(i, spec) for i in range(1, spec.rows + 1)}) == 50
    assert time_of(spec.rows, spec) == END
    assert spec.start < time_of(1, spec) < time_of(2, spec)


@pytest.mark.integration
def test_the_sql_writes_the_rows_the_python_describes(make_database):
    url = make_database(storage="native")
    spec = ReadSpec(rows=300, end=datetime.now(UTC), span=timedelta(days=2), cameras=7, sites=3, plates=50)
    with psycopg.connect(url, autocommit=True) as conn:
        assert insert_reads(conn, spec, 1, 100) == 100
        assert insert_reads(conn, spec, 101) == 200
        rows = conn.execute("SELECT track_id, plate, camera_id, first_seen, site FROM plate_events").fetchall()
        with pytest.raises(ValueError, match="1 <= lo <= hi <= 300"):
            insert_reads(conn, spec, 0, 10)
    assert len(rows) == spec.rows
    for track, plate, camera, first_seen, site in rows:
        i = int(track.removeprefix("trk-"))
        assert (plate, camera) == (plate_of(i, spec), camera_of(i, spec))
        assert abs(first_seen - time_of(i, spec)) < timedelta(milliseconds=1)
        assert site == f"site-{int(camera.removeprefix('cam-')) % spec.sites:02d}"
