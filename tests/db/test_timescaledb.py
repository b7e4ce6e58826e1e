"""The TimescaleDB path end to end: policies that run, `alpr db status`, retention chunk by chunk,
the fallback where the extension is not preloaded, and moving a plain database onto it."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from alpr.cli import cli
from db.maintain import maintain
from db.migrate import MigrationError, migrate
from db.status import read_status
from db.synthetic import ReadSpec, insert_reads
from services.postgres import timescaledb_bindir
from tests.fixtures.database import create_test_database, drop_test_database
from tests.fixtures.pg_cluster import private_cluster

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAY = timedelta(days=1)


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _job(conn: psycopg.Connection, proc: str) -> int:
    row = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s", (proc,)).fetchone()
    assert row is not None, f"no {proc} job"
    return row[0]


def _job_of(url: str, proc: str) -> int:
    with psycopg.connect(url) as conn:
        return _job(conn, proc)


def _chunks(conn: psycopg.Connection) -> list[tuple[datetime, bool]]:
    return conn.execute(
        "SELECT range_start, is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'plate_events' ORDER BY range_start"
    ).fetchall()


def test_policies_run_and_status_reports_chunks_compression_and_jobs(make_timescale_database):
    url = make_timescale_database()
    spec = ReadSpec(rows=20_000, end=_today() - timedelta(microseconds=1), span=12 * DAY, cameras=10, sites=2)
    with psycopg.connect(url, autocommit=True) as conn:
        insert_reads(conn, spec)
    actions = maintain(url)  # runs the policies once in the foreground
    assert f"ran timescaledb job {_job_of(url, 'policy_compression')} (policy_compression)" in actions
    assert any(a.endswith("(policy_refresh_continuous_aggregate)") for a in actions)
    with psycopg.connect(url, autocommit=True) as conn:
        chunks = _chunks(conn)
        assert len(chunks) == 12
        assert [c for _, c in chunks] == [True] * 5 + [False] * 7  # older than 7 days: compressed
        # The refresh policy materialises its window (the last 3 days up to 1 hour ago), real-time
        # aggregation adds newer rows: inside the window the aggregate matches the table. Older
        # hours loaded in bulk need a manual refresh (docs/sql.md; the move script does it).
        since = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * DAY + timedelta(hours=1)
        recent = conn.execute("SELECT count(*) FROM plate_events WHERE first_seen >= %s", (since,)).fetchone()
        assert conn.execute("SELECT sum(events) FROM hourly_counts WHERE hour >= %s", (since,)).fetchone() == recent
        assert conn.execute("SELECT sum(events) FROM hourly_counts").fetchone() < (spec.rows,)  # older: not yet

    status = read_status(url).timescale
    assert status is not None
    assert (status.chunks, status.compressed_chunks) == (12, 5)
    assert status.compression_ratio is not None and status.compression_ratio > 2
    runs = {job.kind: job for job in status.jobs}
    assert set(runs) == {"policy_compression", "policy_retention", "policy_refresh_continuous_aggregate"}
    assert all(job.schedule_interval > timedelta(0) for job in status.jobs)

    shown = CliRunner().invoke(cli, ["db", "status", "--url", url])
    assert shown.exit_code == 0, shown.output
    assert "storage: timescaledb (partition 1 day" in shown.output
    assert "12 chunks, 5 compressed (ratio " in shown.output
    compression = runs["policy_compression"].job_id
    assert f"job {compression} policy_compression on plate_events every 12:00:00: " in shown.output


def test_retention_drops_whole_chunks_only(make_timescale_database):
    url = make_timescale_database()
    spec = ReadSpec(rows=10_000, end=_today() - timedelta(microseconds=1), span=20 * DAY, cameras=5, sites=1)
    with psycopg.connect(url, autocommit=True) as conn:
        insert_reads(conn, spec)
        # One read at the start of the chunk the cutoff (now - 10.5 days) falls in: the even spread
        # above has a read every 173 s, so none lies before the cutoff when it falls in a chunk's
        # first minutes (CI ran at 12:02 UTC once).
        cutoff_now = datetime.now(UTC) - timedelta(days=10, hours=12)
        kept_chunk = cutoff_now.replace(hour=0, minute=0, second=0, microsecond=0)
        conn.execute(
            "INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id, plate,"
            " plate_raw, region, confidence, sightings, crop_key, inserted_at, updated_at)"
            " VALUES (gen_random_uuid(), %(t)s, %(t)s, %(t)s, 'site-00', 'cam-000', 'trk-kept', 'KEPT1', 'KEPT1',"
            " 'GB', 0.9, 1, 'crops/kept.jpg', %(t)s, %(t)s)",
            {"t": kept_chunk},
        )
        conn.execute("CALL run_job(%s)", (_job(conn, "policy_compression"),))
        before = _chunks(conn)
        actions = [r[0] for r in conn.execute("SELECT * FROM alpr_maintain(%s)", (timedelta(days=10, hours=12),))]
        after = _chunks(conn)
        oldest = conn.execute("SELECT min(first_seen) FROM plate_events").fetchone()[0]  # type: ignore[index]
        retention = conn.execute(
            "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
        ).fetchone()
    # Cutoff now - 10.5 days: chunks ending before it go, the one it falls in stays whole.
    cutoff = datetime.now(UTC) - timedelta(days=10, hours=12)
    gone = [start for start, _ in before if start + DAY <= cutoff]
    assert len(gone) >= 9 and len([a for a in actions if a.startswith("dropped expired chunk ")]) == len(gone)
    assert [s for s, _ in after] == [s for s, _ in before if s not in gone]
    assert oldest < cutoff and oldest >= after[0][0]  # rows before the cutoff remain in the kept chunk
    assert "timescaledb retention policy set to 10 days 12:00:00" in actions
    assert retention == ("10 days 12:00:00",)


def test_auto_takes_the_plain_path_where_timescaledb_is_not_preloaded():
    # A server that has the extension's files but no preload: CREATE EXTENSION there would end the
    # session (FATAL), so `migrate` must not let migration 0002 try it.
    bindir = timescaledb_bindir()
    if bindir is None:
        pytest.skip("timescaledb is not installed (scripts/install-system-deps.sh builds it)")
    with private_cluster([], bindir=bindir) as server:
        url = create_test_database(server, "nopreload_")
        try:
            with pytest.raises(MigrationError, match="shared_preload_libraries does not load it"):
                migrate(url, storage="timescaledb")
            migrate(url)
            status = read_status(url)
            assert status.capabilities.extensions["timescaledb"].available
            assert status.layout is not None and status.layout.path in ("partman", "native")
            assert status.timescale is None
        finally:
            drop_test_database(url)


_DICTIONARY = "SELECT plate, days, ARRAY(SELECT unnest(cameras) ORDER BY 1) FROM plate_dictionary ORDER BY plate"
_READ_DICTIONARY = (
    "SELECT plate, array_agg(DISTINCT alpr_read_day(first_seen) ORDER BY alpr_read_day(first_seen)),"
    " array_agg(DISTINCT camera_id ORDER BY camera_id)"
    " FROM plate_events WHERE plate <> '' GROUP BY plate ORDER BY plate"
)


def test_a_plain_database_moves_onto_timescaledb(make_path_database, make_timescale_database):
    source = make_path_database("plain")
    spec = ReadSpec(rows=5_000, end=_today() - timedelta(microseconds=1), span=15 * DAY, cameras=8, sites=2)
    with psycopg.connect(source, autocommit=True) as conn:
        insert_reads(conn, spec)
        conn.execute("SELECT count(*) FROM alpr_maintain()")  # partitions for the older days
        event = conn.execute("SELECT event_id FROM plate_events ORDER BY first_seen LIMIT 1").fetchone()[0]  # type: ignore[index]
        watchlist = conn.execute("INSERT INTO watchlists (name) VALUES ('moved') RETURNING id").fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO plate_corrections (event_id, plate, previous, actor) VALUES (%s, 'AB12CDE', 'X', 'me')",
            (event,),
        )
        tables = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " AND c.relname NOT IN ('schema_migrations', 'storage_layout') ORDER BY 1"
        )]  # fmt: skip
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]
        dictionary = conn.execute(_DICTIONARY).fetchall()
        assert len(dictionary) > 100 and dictionary == conn.execute(_READ_DICTIONARY).fetchall()

    target = make_timescale_database()
    moved = subprocess.run(
        ["bash", str(ROOT / "scripts" / "move-to-timescaledb.sh"), source, target],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert f"moved {spec.rows} plate events" in moved.stdout and "chunks: 15" in moved.stdout

    with psycopg.connect(target, autocommit=True) as conn:
        assert {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables} == counts  # type: ignore[index]
        assert [c for _, c in _chunks(conn)].count(True) == 8  # the compression policy ran once
        assert conn.execute("SELECT sum(events) FROM hourly_counts").fetchone() == (spec.rows,)
        assert conn.execute("SELECT plate FROM plate_corrections WHERE event_id = %s", (event,)).fetchone() == (
            "AB12CDE",
        )
        # The dictionary, rebuilt by the target's triggers (its rows are not copied): the reads'.
        assert conn.execute(_DICTIONARY).fetchall() == dictionary
        assert conn.execute(_READ_DICTIONARY).fetchall() == dictionary
        # Sequences came along: new rows do not collide with moved ones.
        assert conn.execute("INSERT INTO watchlists (name) VALUES ('new') RETURNING id").fetchone()[0] > watchlist  # type: ignore[index]
        conn.execute(
            "INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id,"
            " plate, plate_raw, confidence) VALUES (%s, now(), now(), now(), 's', 'c', 't', 'P', 'P', 0.9)",
            (uuid.uuid4(),),
        )

    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "move-to-timescaledb.sh"), source, target],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 1 and "already holds plate events" in again.stderr
