"""The pg_cron path, on a private PostgreSQL cluster that preloads pg_cron.

The system cluster here has no ``shared_preload_libraries``, so this test runs its own
(initdb + postgres on a free loopback port, fsync off) and stops it by PID at the end.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from db.migrate import migrate
from db.status import read_status

pytestmark = pytest.mark.integration

BINDIR = Path("/usr/lib/postgresql/15/bin")
CRON_DB = "alpr_cron"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Child side of Popen: get SIGINT (fast shutdown) when the test process dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cron_cluster() -> Iterator[str]:
    """URL of the postgres DB of a private cluster with pg_cron preloaded for database alpr_cron."""
    if not (BINDIR / "initdb").is_file() or not (BINDIR.parent / "lib" / "pg_cron.so").is_file():
        pytest.skip(f"PostgreSQL 15 binaries with pg_cron not found under {BINDIR.parent}")
    user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="alpr-pgcron-"))
    if user:
        shutil.chown(root, user)
    port = _free_port()
    server = None
    try:
        subprocess.run(
            [str(BINDIR / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "--no-sync"],
            user=user,
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = subprocess.Popen(
            [str(BINDIR / "postgres"), "-D", str(root / "data"), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
             "-c", "shared_preload_libraries=pg_cron", "-c", f"cron.database_name={CRON_DB}"],
            user=user,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads started yet in this fixture
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_cron_database_schedules_upkeep_and_the_jobs_run(cron_cluster):
    url = cron_cluster.rsplit("/", 1)[0] + f"/{CRON_DB}"
    migrate(url)
    status = read_status(url)
    assert status.capabilities.cron
    assert status.layout is not None and status.layout.scheduler == "pg_cron"
    with psycopg.connect(url, autocommit=True) as conn:
        jobs = dict(conn.execute("SELECT jobname, command FROM cron.job WHERE database = %s", (CRON_DB,)))
        expected = {"alpr-maintain"} | (
            {"alpr-partman-maintenance"} if status.layout.path == "partman" else set()
        )
        assert set(jobs) == expected
        for command in jobs.values():
            conn.execute(command)  # what pg_cron will run: must work outside a transaction


def test_other_databases_fall_back_to_external_upkeep(cron_cluster):
    url = cron_cluster.rsplit("/", 1)[0] + "/alpr_not_cron"
    migrate(url)
    status = read_status(url)
    assert not status.capabilities.cron
    assert status.layout is not None and status.layout.scheduler == "external"
