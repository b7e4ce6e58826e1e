"""Prometheus alert rules and Alertmanager configuration, checked and unit-tested by their own tools.

The rules' metric names are checked on live processes by tests/deploy/test_compose_commands.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt {package}; scripts/install-system-deps.sh)")
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def test_promtool_checks_the_rules() -> None:
    result = _run(_tool("promtool", "prometheus"), "check", "rules", str(DEPLOY / "prometheus" / "rules" / "alpr.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = _run(
        _tool("promtool", "prometheus"), "test", "rules", str(DEPLOY / "prometheus" / "tests" / "alpr.test.yml")
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_test_case_and_a_runbook_entry() -> None:
    import yaml

    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "alpr.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((DEPLOY / "prometheus" / "tests" / "alpr.test.yml").read_text())
    tested = {case["alertname"] for t in tests["tests"] for case in t["alert_rule_test"] if case.get("exp_alerts")}
    assert names == tested
    operate = (DEPLOY.parent / "docs" / "operate.md").read_text()
    for name in names:
        assert f"### {name}" in operate, f"docs/operate.md explains no {name}"


def test_promtool_checks_the_prometheus_configuration(tmp_path: Path) -> None:
    # The rule_files path is the container's: check a copy that points at the repository's rules.
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/rules/", f"{DEPLOY / 'prometheus' / 'rules'}/"))
    result = _run(_tool("promtool", "prometheus"), "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_checks_the_alertmanager_configuration() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    result = _run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
