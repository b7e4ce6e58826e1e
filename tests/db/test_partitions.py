"""Storage paths of plate_events: rows land in per-day partitions, upkeep creates and expires them."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from db.connect import with_database
from db.maintain import MaintenanceError, maintain
from db.migrate import migrate
from db.status import read_capabilities, read_layout, read_status
from tests.fixtures.database import create_test_database, drop_test_database

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def _today() -> datetime:
    # Partitions are premade around the server clock, so the test anchors on the same clock.
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _insert_event(conn: psycopg.Connection, first_seen: datetime, plate: str = "AB123CD") -> uuid.UUID:
    event_id = uuid.uuid4()
    conn.execute(
        """
        INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,
                                  plate, plate_raw, confidence, sightings)
        VALUES (%s, %s, %s, %s, 'site-a', 'cam-1', 'run-1', %s, %s, 0.9, 3)
        """,
        (
            event_id,
            first_seen,
            first_seen + timedelta(seconds=5),
            first_seen + timedelta(seconds=2),
            plate,
            plate,
        ),
    )
    return event_id


def _partition_of(conn: psycopg.Connection) -> dict[uuid.UUID, str]:
    rows = conn.execute("SELECT event_id, tableoid::regclass::text FROM plate_events").fetchall()
    return dict(rows)


def _partitions(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'plate_events'::regclass"
    ).fetchall()
    return {r[0] for r in rows}


def _day_name(day: datetime) -> str:
    return f"plate_events_p{day:%Y_%m_%d}"


def test_native_path_partitions_by_day_and_expires(make_database):
    url = make_database(storage="native")
    today = _today()
    with psycopg.connect(url, autocommit=True) as conn:
        assert read_layout(conn).path == "native"  # type: ignore[union-attr]
        recent = {_insert_event(conn, today + k * DAY + timedelta(hours=k + 2)): today + k * DAY for k in (-1, 0, 1)}
        late = _insert_event(conn, today - 20 * DAY + timedelta(hours=5))  # no partition yet
        expired = _insert_event(conn, today - 200 * DAY)
        old_reject, new_reject = (
            conn.execute(
                "INSERT INTO rejected_reads"
                " (observed_at, site, camera_id, track_id, plate_raw, reason, confidence)"
                " VALUES (%s, 's', 'c', 't', 'X', 'too_short', 0.2) RETURNING id",
                (at,),
            ).fetchone()[0]  # type: ignore[index]
            for at in (today - 200 * DAY, today)
        )
        where = _partition_of(conn)
        assert {where[e] for e in recent} == {_day_name(d) for d in recent.values()}
        assert where[late] == where[expired] == "plate_events_default"

    actions = maintain(url, retention_days=90, now=today + timedelta(hours=12))
    assert "deleted 1 expired plate events from plate_events_default" in actions
    assert any(a.startswith("deleted 1 rejected reads older than") for a in actions)
    assert any(
        a.startswith(f"created partition {_day_name(today - 20 * DAY)}") and a.endswith("with 1 rows") for a in actions
    )
    assert maintain(url, retention_days=90, now=today + timedelta(hours=12)) == []  # idempotent

    with psycopg.connect(url, autocommit=True) as conn:
        where = _partition_of(conn)
        assert expired not in where
        assert where[late] == _day_name(today - 20 * DAY)
        assert conn.execute("SELECT count(*) FROM plate_events_default").fetchone() == (0,)
        assert [r[0] for r in conn.execute("SELECT id FROM rejected_reads")] == [new_reject]
        assert old_reject != new_reject

    # Cutoff today - 1.5 days: yesterday's partition ends after it and stays, the one 3 days
    # back ends before it and goes.
    with psycopg.connect(url, autocommit=True) as conn:
        keep = _insert_event(conn, today - DAY + timedelta(hours=23))
        drop = _insert_event(conn, today - 3 * DAY + timedelta(hours=1))
    actions = maintain(url, retention_days=2, now=today + timedelta(hours=12))
    assert f"dropped expired partition {_day_name(today - 3 * DAY)} (up to" in " ".join(actions)
    with psycopg.connect(url, autocommit=True) as conn:
        where = _partition_of(conn)
        assert keep in where and drop not in where and late not in where

    # A month later, with 10 days' retention: partitions ahead exist, everything older is gone.
    later = today + 30 * DAY + timedelta(hours=1)
    actions = maintain(url, retention_days=10, now=later)
    assert "retention changed from 2 days to 10 days" in actions
    with psycopg.connect(url, autocommit=True) as conn:
        names = _partitions(conn)
        assert _day_name(later + 4 * DAY) in names
        assert not any(_day_name(today + k * DAY) in names for k in (-20, -1, 0, 1))
        assert conn.execute("SELECT count(*) FROM plate_events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM rejected_reads").fetchone() == (0,)


def test_partman_path_partitions_and_expires(make_database):
    url = make_database(migrated=False)
    with psycopg.connect(url) as conn:
        if not read_capabilities(conn).partman:
            pytest.skip("pg_partman is not installed on this PostgreSQL server")

    migrate(url, storage="partman")
    today = _today()
    with psycopg.connect(url, autocommit=True) as conn:
        assert read_layout(conn).path == "partman"  # type: ignore[union-attr]
        assert conn.execute(
            "SELECT retention, retention_keep_table, infinite_time_partitions FROM partman.part_config"
            " WHERE parent_table = 'public.plate_events'"
        ).fetchone() == ("90 days", False, True)
        recent = {_insert_event(conn, today + k * DAY + timedelta(hours=3)): today + k * DAY for k in (-3, 0, 2)}
        late = _insert_event(conn, today - 20 * DAY + timedelta(hours=5))
        expired = _insert_event(conn, today - 200 * DAY)
        where = _partition_of(conn)
        assert {where[e] for e in recent} == {_day_name(d) for d in recent.values()}
        assert where[late] == where[expired] == "plate_events_default"

    actions = maintain(url, retention_days=90)
    assert "deleted 1 expired plate events from plate_events_default" in actions
    assert "pg_partman moved 1 rows out of plate_events_default" in actions
    with psycopg.connect(url, autocommit=True) as conn:
        where = _partition_of(conn)
        assert expired not in where
        assert where[late] == _day_name(today - 20 * DAY)

    # Retention 2 days: pg_partman drops every partition that ended before now - 2 days.
    actions = maintain(url, retention_days=2)
    assert f"pg_partman dropped expired partition {_day_name(today - 20 * DAY)}" in actions
    assert f"pg_partman dropped expired partition {_day_name(today - 3 * DAY)}" in actions
    with psycopg.connect(url, autocommit=True) as conn:
        assert set(_partition_of(conn)) == {e for e, d in recent.items() if d >= today}
        assert conn.execute(
            "SELECT retention FROM partman.part_config WHERE parent_table = 'public.plate_events'"
        ).fetchone() == ("2 days",)
    assert maintain(url, retention_days=2) == []


def test_auto_path_matches_server_capabilities(database_url):
    status = read_status(database_url)
    caps = status.capabilities
    expected = "timescaledb" if caps.timescaledb else ("partman" if caps.partman else "native")
    assert status.layout is not None and status.layout.path == expected
    if expected == "timescaledb":
        assert status.layout.scheduler == "timescaledb"
    else:
        assert status.layout.scheduler == ("pg_cron" if caps.cron else "external")
    assert status.pending == []


def test_cron_fallback_is_clean_when_cron_is_not_preloaded(database_url):
    with psycopg.connect(database_url) as conn:
        caps = read_capabilities(conn)
        if caps.cron:
            pytest.skip("pg_cron is usable on this server; the fallback path is not taken")
        assert "pg_cron" not in {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}


def test_timescaledb_path(timescale_server_url):
    url = create_test_database(timescale_server_url, "ts_")
    try:
        migrate(url, storage="timescaledb")
        with psycopg.connect(url, autocommit=True) as conn:
            assert read_capabilities(conn).timescaledb
            hypertables = conn.execute(
                "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            ).fetchall()
            assert ("plate_events", True) in hypertables
            jobs = {r[0] for r in conn.execute("SELECT proc_name FROM timescaledb_information.jobs")}
            assert {"policy_retention", "policy_compression", "policy_refresh_continuous_aggregate"} <= jobs
            assert conn.execute(
                "SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name = 'hourly_counts'"
            ).fetchone() == (1,)
            today = _today()
            _insert_event(conn, today + timedelta(hours=1))
            _insert_event(conn, today + timedelta(hours=1, minutes=10))
            assert conn.execute("SELECT events FROM hourly_counts").fetchall() == [(2,)]
    finally:
        drop_test_database(url)


def test_maintain_on_an_unmigrated_database_says_so(database_server_url):
    # The server's maintenance database has no alpr_maintain(); nothing is changed there.
    with pytest.raises(MaintenanceError, match="run `alpr db migrate` first"):
        maintain(with_database(database_server_url, "postgres"))


@pytest.mark.parametrize("storage", ["native", "partman"])
def test_upkeep_with_concurrent_inserts_loses_nothing(make_database, storage):
    url = make_database(migrated=False)
    with psycopg.connect(url) as conn:
        if storage == "partman" and not read_capabilities(conn).partman:
            pytest.skip("pg_partman is not installed on this PostgreSQL server")
    migrate(url, storage=storage)
    today = _today()
    inserted: list[uuid.UUID] = []
    failures: list[BaseException] = []

    def insert_late_rows() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                for n in range(100):  # 10..19 days back: outside the premade window
                    inserted.append(_insert_event(conn, today - (10 + n % 10) * DAY + timedelta(minutes=n)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    writer = threading.Thread(target=insert_late_rows)
    writer.start()
    runs = 0
    while writer.is_alive() or runs == 0:
        maintain(url, now=today)
        runs += 1
    writer.join()
    maintain(url, now=today)
    assert failures == []
    with psycopg.connect(url, autocommit=True) as conn:
        where = _partition_of(conn)
        assert conn.execute("SELECT count(*) FROM plate_events_default").fetchone() == (0,)
    assert set(where) == set(inserted) and len(inserted) == 100
    assert all(name.startswith("plate_events_p") for name in where.values())
