"""scripts/install-system-deps.sh, in its read-only ``--check`` mode (changes nothing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.postgres import timescaledb_bindir

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-system-deps.sh"
PACKAGES = ("postgresql-15", "postgresql-15-partman", "postgresql-15-cron", "prometheus")
# Built from source (no Debian package for PostgreSQL 15) into a PostgreSQL tree of its own.
SOURCE_BUILT = ("timescaledb",)


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_check_reports_every_package_and_agrees_with_dpkg():
    result = subprocess.run(["sh", str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    states = {}
    for line in result.stdout.splitlines():
        state, _, package = line.partition(" ")
        if state in ("ok", "missing"):
            states[package.strip()] = state
    assert set(states) == set(PACKAGES) | set(SOURCE_BUILT)
    for package in PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
        assert states[package] == ("ok" if "install ok installed" in status else "missing"), package
    assert states["timescaledb"] == ("ok" if timescaledb_bindir() is not None else "missing")
    assert result.returncode == (1 if "missing" in states.values() else 0)
