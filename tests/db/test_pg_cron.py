"""The pg_cron path, on a private PostgreSQL cluster that preloads pg_cron.

The system cluster here has no ``shared_preload_libraries``, so this test runs its own
(tests/fixtures/pg_cluster.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from db.migrate import migrate
from db.status import read_status
from tests.fixtures.pg_cluster import LIBDIR, installed, private_cluster

pytestmark = pytest.mark.integration

CRON_DB = "alpr_cron"


@pytest.fixture(scope="module")
def cron_cluster() -> Iterator[str]:
    """URL of the postgres DB of a private cluster with pg_cron preloaded for database alpr_cron."""
    if not installed("pg_cron"):
        pytest.skip(f"PostgreSQL 15 binaries with pg_cron not found under {LIBDIR.parent}")
    with private_cluster(["shared_preload_libraries=pg_cron", f"cron.database_name={CRON_DB}"]) as url:
        yield url


def test_cron_database_schedules_upkeep_and_the_jobs_run(cron_cluster):
    url = cron_cluster.rsplit("/", 1)[0] + f"/{CRON_DB}"
    migrate(url)
    status = read_status(url)
    assert status.capabilities.cron
    assert status.layout is not None and status.layout.scheduler == "pg_cron"
    with psycopg.connect(url, autocommit=True) as conn:
        jobs = dict(conn.execute("SELECT jobname, command FROM cron.job WHERE database = %s", (CRON_DB,)))
        expected = {"alpr-maintain"} | ({"alpr-partman-maintenance"} if status.layout.path == "partman" else set())
        assert set(jobs) == expected
        for command in jobs.values():
            conn.execute(command)  # what pg_cron will run: must work outside a transaction


def test_other_databases_fall_back_to_external_upkeep(cron_cluster):
    url = cron_cluster.rsplit("/", 1)[0] + "/alpr_not_cron"
    migrate(url)
    status = read_status(url)
    assert not status.capabilities.cron
    assert status.layout is not None and status.layout.scheduler == "external"
