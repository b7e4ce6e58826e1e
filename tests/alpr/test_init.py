"""``alpr init``: what a fresh deployment lacks is created once, what exists is left alone."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from alpr.init import init, init_recovery
from alpr.pipeline_run import child_env


def test_recovery_partitions_are_created_once_and_never_over_existing_ones(tmp_path: Path) -> None:
    directory = tmp_path / "recovery"
    assert init_recovery(directory, 3)
    parts = {p.name: p.stat().st_ino for p in directory.glob("part-*.sqlite3")}
    assert sorted(parts) == ["part-0.sqlite3", "part-1.sqlite3", "part-2.sqlite3"]
    assert not init_recovery(directory, 5)  # bytewax.recovery would fail here; we keep what exists
    assert {p.name: p.stat().st_ino for p in directory.glob("part-*.sqlite3")} == parts
    assert [p.name for p in directory.iterdir() if not p.name.startswith("part-")] == []


def test_an_interrupted_run_leaves_nothing_that_blocks_the_next(tmp_path: Path) -> None:
    directory = tmp_path / "recovery"
    (directory / ".alpr-init").mkdir(parents=True)
    (directory / ".alpr-init" / "part-0.sqlite3").write_bytes(b"half written")
    assert init_recovery(directory, 1)
    assert [p.name for p in directory.iterdir()] == ["part-0.sqlite3"]


@pytest.mark.integration
def test_init_prepares_fresh_services_and_is_idempotent(settings, make_database, tmp_path: Path) -> None:
    tag = secrets.token_hex(4)
    env = child_env(settings, metrics=False, base={})
    env["ALPR_DATABASE__URL"] = make_database(migrated=False)
    env["ALPR_S3__BUCKET"] = f"init-{tag}"
    for name in ("crops", "detections", "plates", "alerts", "dead_letter"):
        env[f"ALPR_KAFKA__TOPICS__{name.upper()}"] = f"init-{name}-{tag}"
    args = ["--partitions", "2", "--recovery-dir", str(tmp_path / "recovery"), "--recovery-partitions", "2"]
    first = CliRunner().invoke(init, args, env=env)
    assert first.exit_code == 0, first.output
    assert "database: applied 0001_core_tables" in first.output
    assert f"bucket: created init-{tag}" in first.output
    assert "topics: created" in first.output and "(2 partitions)" in first.output
    assert "recovery: created 2 partition(s)" in first.output
    again = CliRunner().invoke(init, args, env=env)
    assert again.exit_code == 0, again.output
    assert "database: up to date" in again.output
    assert f"bucket: init-{tag} exists" in again.output
    assert "topics: kept" in again.output and "created" not in again.output.split("topics:")[1].split("\n")[0]
    assert "recovery: kept the 2 partition(s)" in again.output


def test_init_names_the_step_that_failed(tmp_path: Path) -> None:
    env = {"ALPR_DATABASE__URL": "postgresql://postgres@127.0.0.1:1/none"}
    result = CliRunner().invoke(init, ["--skip", "bucket", "--skip", "topics"], env=env)
    assert result.exit_code != 0 and "database:" in result.output
