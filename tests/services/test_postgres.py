"""PostgreSQL: the configured server is used when it answers, else a private cluster is started."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from pydantic import SecretStr

from services import stack
from services.postgres import postgres_bindir, server_preloads, server_probe, timescaledb_bindir
from services.process import free_ports, pid_alive
from tests.fixtures.stack import make_stack_settings

pytestmark = pytest.mark.integration


def _with_database_url(settings, url: str):
    database = settings.database.model_copy(update={"url": SecretStr(url)})
    return settings.model_copy(update={"database": database})


@pytest.fixture
def traversable_dir():
    # As root the cluster runs as the postgres OS user, which cannot enter pytest's 0700 tmp dirs.
    path = Path(tempfile.mkdtemp(prefix="alpr-pg-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL server binaries not installed")
def test_private_cluster_when_configured_server_does_not_answer(traversable_dir):
    (dead_port,) = free_ports(1)
    settings = _with_database_url(
        make_stack_settings(traversable_dir / "run"), f"postgresql://postgres@127.0.0.1:{dead_port}/alpr_test"
    )
    assert not server_probe(settings.database.url.get_secret_value()).ok
    try:
        (report,) = stack.up(settings, only=["postgres"], die_with_parent=True)
        assert report.state == "started", report.detail
        url = (stack.run_dir(settings) / "database_url").read_text().strip()
        assert url == f"postgresql://postgres@127.0.0.1:{settings.services.ports.postgres}/alpr_test"

        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:  # the configured database was created
            assert conn.execute("select current_database()").fetchone() == ("alpr_test",)
            preload = conn.execute("show shared_preload_libraries").fetchone()[0]
            listen = conn.execute("show listen_addresses").fetchone()[0]
        assert listen == "127.0.0.1"
        if (postgres_bindir().parent / "lib" / "pg_cron.so").is_file():
            assert "pg_cron" in preload
        if timescaledb_bindir() is not None:
            assert "timescaledb" in preload

        (row,) = stack.status(settings, only=["postgres"])
        assert row.healthy and row.pid == report.pid and row.address == url
        (again,) = stack.up(settings, only=["postgres"])
        assert (again.state, again.pid) == ("running", report.pid)
    finally:
        stopped = stack.down(settings, only=["postgres"], grace_s=10)
    assert stopped[0].detail == "stopped"
    assert not pid_alive(report.pid)
    assert not (stack.run_dir(settings) / "database_url").exists()  # no URL of a stopped cluster


def test_configured_server_is_used_when_it_answers(tmp_path, monkeypatch):
    import services.postgres as pg

    monkeypatch.setattr(pg, "timescaledb_bindir", lambda: None)  # as where TimescaleDB is not built
    settings = make_stack_settings(tmp_path / "run")
    configured = settings.database.url.get_secret_value()
    if not server_probe(configured).ok:
        pytest.skip(f"configured database {configured} does not answer")
    (report,) = stack.up(settings, only=["postgres"])
    assert (report.state, report.pid) == ("external", None)
    assert (stack.run_dir(settings) / "database_url").read_text().strip() == configured
    assert not (stack.run_dir(settings) / "pids" / "postgres.pid").exists()


def test_missing_binaries_name_the_apt_command(tmp_path, monkeypatch):
    import services.postgres as pg

    # As if on a machine without PostgreSQL, and not root (so nothing gets installed).
    monkeypatch.setattr(pg, "postgres_bindir", lambda: None)
    monkeypatch.setattr(pg, "timescaledb_bindir", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    (dead_port,) = free_ports(1)
    settings = _with_database_url(make_stack_settings(tmp_path / "run"), f"postgresql://x@127.0.0.1:{dead_port}/a")
    (report,) = stack.up(settings, only=["postgres"])
    assert report.state == "failed"
    assert "apt-get install -y postgresql-15 postgresql-15-partman postgresql-15-cron" in report.detail


@pytest.mark.skipif(
    timescaledb_bindir() is None, reason="timescaledb is not installed (scripts/install-system-deps.sh)"
)
def test_private_timescaledb_cluster_when_configured_server_does_not_preload_it(traversable_dir):
    settings = make_stack_settings(traversable_dir / "run")
    configured = settings.database.url.get_secret_value()
    preloads = server_preloads(configured)  # None: it does not answer, a private cluster either way
    if preloads is not None and "timescaledb" in preloads:
        pytest.skip(f"configured database {configured} preloads timescaledb itself: it is used as it is")
    try:
        (report,) = stack.up(settings, only=["postgres"], die_with_parent=True)
        assert report.state == "started", report.detail
        url = (stack.run_dir(settings) / "database_url").read_text().strip()
        assert url != configured and url.startswith(
            f"postgresql://postgres@127.0.0.1:{settings.services.ports.postgres}/"
        )
        assert "timescaledb" in (server_preloads(url) or ())
    finally:
        stack.down(settings, only=["postgres"], grace_s=10)
