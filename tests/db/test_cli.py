"""`alpr db migrate | status | maintain` through the real `alpr` command group."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from alpr.cli import cli
from tests.fixtures.database import create_test_database, drop_test_database


@pytest.mark.integration
def test_migrate_status_maintain(database_server_url):
    url = create_test_database(database_server_url)
    drop_test_database(url)  # `migrate` creates it
    runner = CliRunner()
    try:
        status = runner.invoke(cli, ["db", "status", "--url", url])
        assert status.exit_code == 1 and "cannot connect to" in status.output

        first = runner.invoke(cli, ["db", "migrate", "--url", url, "--storage", "native"])
        assert first.exit_code == 0, first.output
        assert "applied 0001_core_tables" in first.output
        assert "storage: native (partition 1 day, premake 4, retention 90 days" in first.output

        again = runner.invoke(cli, ["db", "migrate", "--url", url])
        assert again.exit_code == 0 and "is up to date" in again.output

        status = runner.invoke(cli, ["db", "status", "--url", url])
        assert status.exit_code == 0, status.output
        assert "pending" not in status.output
        assert "pg_trgm      installed" in status.output
        assert "storage: native" in status.output

        maintain = runner.invoke(cli, ["db", "maintain", "--url", url, "--retention-days", "30"])
        assert maintain.exit_code == 0, maintain.output
        assert "retention changed from 90 days to 30 days" in maintain.output
        repeat = runner.invoke(cli, ["db", "maintain", "--url", url, "--retention-days", "30"])
        assert repeat.output.strip() == "nothing to do"
    finally:
        drop_test_database(url)


def test_bad_config_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("database:\n  reads_retention_days: 0\n")
    result = CliRunner().invoke(cli, ["db", "migrate", "--config", str(bad), "--url", "postgresql://x@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert "database.reads_retention_days" in result.output
