"""Databases on both storage paths: plain PostgreSQL (pg_partman, else native) and TimescaleDB.

Tests that take ``storage_path`` (or a fixture parametrized with :data:`STORAGE_PATHS`) run once
per path. The plain database lives on the test server, the TimescaleDB one on
``timescale_server_url`` (tests/fixtures/pg_cluster.py: a private cluster preloading it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from db.migrate import migrate
from db.status import read_capabilities
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
