"""Migrations: history checks (pure) and applying them to a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from db.migrate import (
    AppliedMigration,
    Migration,
    MigrationError,
    applied_migrations,
    check_history,
    load_migrations,
    migrate,
)
from db.status import read_capabilities
from tests.fixtures.database import create_test_database, drop_test_database

CONTRACT_TABLES = (
    "plate_events",
    "rejected_reads",
    "watchlists",
    "watchlist_entries",
    "alerts",
    "alert_deliveries",
    "api_keys",
    "audit_log",
)
CONTRACT_VIEWS = ("plate_sightings", "hourly_counts")


def _applied(migration: Migration, checksum: str | None = None) -> AppliedMigration:
    return AppliedMigration(
        migration.version, migration.name, checksum or migration.checksum, datetime(2026, 1, 1, tzinfo=UTC)
    )


# --- pure -------------------------------------------------------------------------------


def test_migration_files_are_numbered_from_one_without_gaps():
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_bad_file_name_is_rejected(tmp_path: Path):
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake.sql"):
        load_migrations(tmp_path)


def test_duplicate_versions_are_rejected(tmp_path: Path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)


def test_history_matching_the_files_passes():
    migrations = load_migrations()
    check_history([_applied(m) for m in migrations], migrations)


def test_changed_checksum_is_refused():
    migrations = load_migrations()
    history = [_applied(migrations[0], checksum="0" * 64)]
    with pytest.raises(MigrationError, match=f"{migrations[0].filename} changed after it was applied"):
        check_history(history, migrations)


def test_unknown_applied_version_is_refused():
    migrations = load_migrations()
    future = AppliedMigration(9999, "from_the_future", "f" * 64, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(MigrationError, match="9999_from_the_future"):
        check_history([future], migrations)


# --- against PostgreSQL -----------------------------------------------------------------


@pytest.mark.integration
def test_fresh_database_gets_every_migration_once(make_database):
    url = make_database(migrated=False)
    with psycopg.connect(url) as conn:
        timescale_on_server = read_capabilities(conn).extensions["timescaledb"].available
    if not timescale_on_server:
        # Asking for a path the server lacks fails 0002 as a whole; 0001 stays applied.
        with pytest.raises(MigrationError, match="storage path timescaledb was requested"):
            migrate(url, storage="timescaledb")
        with psycopg.connect(url) as conn:
            assert [r.version for r in applied_migrations(conn)] == [1]
            assert conn.execute("SELECT to_regclass('storage_layout')").fetchone() == (None,)
    applied = migrate(url)
    assert applied and applied[-1].version == load_migrations()[-1].version
    assert migrate(url) == []  # idempotent
    with psycopg.connect(url) as conn:
        recorded = applied_migrations(conn)
    assert [(r.version, r.checksum) for r in recorded] == [(m.version, m.checksum) for m in load_migrations()]


@pytest.mark.integration
def test_contract_tables_and_views_exist_with_comments(database_url):
    names = list(CONTRACT_TABLES + CONTRACT_VIEWS)
    with psycopg.connect(database_url) as conn:
        kinds = dict(
            conn.execute(
                "SELECT relname, relkind FROM pg_class"
                " WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(%s)",
                (names,),
            ).fetchall()
        )
        uncommented_relations = conn.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND obj_description(oid, 'pg_class') IS NULL",
            (names,),
        ).fetchall()
        uncommented_columns = conn.execute(
            """
            SELECT c.relname || '.' || a.attname
              FROM pg_class c
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relname = ANY(%s) AND a.attname NOT IN ('id', 'created_at', 'updated_at')
               AND col_description(c.oid, a.attnum) IS NULL
             ORDER BY 1
            """,
            (names,),
        ).fetchall()
    assert set(kinds) == set(names)
    assert kinds["plate_events"] in ("p", "r")  # partitioned (native/partman) or hypertable
    assert uncommented_relations == []
    assert uncommented_columns == []


@pytest.mark.integration
def test_changed_migration_is_refused_by_the_database(database_url):
    url = database_url
    edited = [dataclasses.replace(m, checksum="0" * 64) if m.version == 1 else m for m in load_migrations()]
    with pytest.raises(MigrationError, match="0001_core_tables.sql changed after it was applied"):
        migrate(url, migrations=edited)


@pytest.mark.integration
def test_failing_migration_rolls_back_and_names_the_file(database_url):
    url = database_url
    broken = Migration(99, "broken", "CREATE TABLE half_done (id int); SELECT 1/0;", "a" * 64)
    with pytest.raises(MigrationError, match="0099_broken.sql failed: division by zero"):
        migrate(url, migrations=[*load_migrations(), broken])
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert 99 not in {r.version for r in applied_migrations(conn)}


@pytest.mark.integration
def test_concurrent_migrators_apply_each_migration_exactly_once(database_server_url):
    url = create_test_database(database_server_url)
    drop_test_database(url)  # both migrators also race to create the database
    results: list[list[AppliedMigration]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            results.append(migrate(url))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        versions = sorted(a.version for batch in results for a in batch)
        assert versions == [m.version for m in load_migrations()]
        with psycopg.connect(url) as conn:
            assert len(applied_migrations(conn)) == len(load_migrations())
    finally:
        drop_test_database(url)
