"""Databases on both storage paths: plain PostgreSQL (pg_partman, else native) and TimescaleDB.

Tests that take ``storage_path`` (or a fixture parametrized with :data:`STORAGE_PATHS`) run once
per path. The plain database lives on the test server, the TimescaleDB one on
``timescale_server_url`` (tests/fixtures/pg_cluster.py: a private cluster preloading it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from db.migrate import migrate
from db.status import read_capabilities
from db.synthetic import ReadSpec
from tests.fixtures.database import create_test_database, drop_test_database

STORAGE_PATHS = ("plain", "timescaledb")


@pytest.fixture(scope="session")
def make_path_database(request: pytest.FixtureRequest, database_server_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: ``make("plain" | "timescaledb")`` -> URL of a fresh database migrated on that path."""
    created: list[str] = []

    def make(path: str) -> str:
        if path == "timescaledb":  # its own factory: its server may stop before this one ends
            return request.getfixturevalue("make_timescale_database")()
        with psycopg.connect(database_server_url) as conn:
            storage = "partman" if read_capabilities(conn).partman else "native"
        url = create_test_database(database_server_url)
        created.append(url)
        migrate(url, storage=storage)  # type: ignore[arg-type]
        return url

    yield make
    for url in created:
        drop_test_database(url)


def days_to_today(rows: int, days: int, plates: int) -> ReadSpec:
    """Reads over the ``days`` days before today (UTC), 20 cameras at 4 sites."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return ReadSpec(
        rows=rows, end=today - timedelta(microseconds=1), span=timedelta(days=days), cameras=20, sites=4, plates=plates
    )


def upkeep(conn: psycopg.Connection[Any], path: str) -> None:
    """After a load: compress as the policy would (TimescaleDB) or move the rows out of the default
    partition (plain), then ANALYZE."""
    if path == "timescaledb":
        (job,) = conn.execute(
            "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'"
        ).fetchone()  # type: ignore[misc]
        conn.execute("CALL run_job(%s)", (job,))
    else:
        conn.execute("SELECT count(*) FROM alpr_maintain()")
    conn.execute("ANALYZE")
