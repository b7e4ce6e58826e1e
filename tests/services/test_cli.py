"""`alpr services up|status|down` through the real CLI, on free ports in a private run dir."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from alpr.cli import cli
from services import stack
from services.process import pid_alive
from services.prometheus import prometheus_binary
from tests.fixtures.stack import make_stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def config_file():
    """A YAML config for a whole memory-mode stack on free ports; everything is stopped afterwards."""
    # Not pytest's 0700 tmp dir: a private PostgreSQL cluster runs as the postgres OS user when root.
    root = Path(tempfile.mkdtemp(prefix="alpr-cli-"))
    root.chmod(0o755)
    settings = make_stack_settings(root / "run", broker_storage="memory")
    local = settings.services.model_dump(mode="json")
    local["prometheus"] = prometheus_binary() is not None
    data = {
        "services": local,
        "s3": {"endpoint": settings.s3.endpoint},
        "kafka": {
            "bootstrap_servers": settings.kafka.bootstrap_servers,
            "schema_registry_url": settings.kafka.schema_registry_url,
        },
    }
    path = root / "stack.yaml"
    path.write_text(yaml.safe_dump(data))
    yield path
    from config.load import load_settings

    stack.down(load_settings(path), grace_s=3)
    shutil.rmtree(root, ignore_errors=True)


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["services", *args], catch_exceptions=False)


def _status(config_file) -> dict[str, dict]:
    result = _invoke("status", "--json", "--config", str(config_file))
    # The JSON document is stdout; logs (stderr) are not part of it.
    return {row["name"]: row for row in json.loads(result.stdout)}, result.exit_code


def test_up_status_idempotent_up_and_down(config_file):
    first = _invoke("up", "--memory", "--config", str(config_file))
    assert first.exit_code == 0, first.output
    assert "total startup time:" in first.output

    rows, code = _status(config_file)
    assert code == 0, rows
    expected = {"s3", "broker", "registry", "postgres"} | ({"prometheus"} if prometheus_binary() else set())
    assert set(rows) == expected
    assert all(row["healthy"] for row in rows.values()), rows
    managed = {name: row["pid"] for name, row in rows.items() if name != "postgres" or row["pid"]}
    assert all(isinstance(pid, int) and pid_alive(pid) for pid in managed.values()), managed

    if "prometheus" in rows:
        _assert_scrapes_metrics_endpoints(rows["prometheus"]["address"], config_file)

    # A second `up` is a no-op: same processes, reported as already running.
    second = _invoke("up", "--memory", "--config", str(config_file))
    assert second.exit_code == 0, second.output
    rows_again, _ = _status(config_file)
    assert {n: r["pid"] for n, r in rows_again.items() if n in managed} == managed
    for name in managed:
        assert any(line.startswith(name) and " running " in line for line in second.output.splitlines()), name

    # `up` with other settings does not pretend the running broker matches them.
    other = _invoke("up", "--durable", "--only", "broker", "--config", str(config_file))
    assert other.exit_code == 1
    assert "runs with other settings" in other.output and "memory://tansu/" in other.output
    assert pid_alive(managed["broker"])

    stopped = _invoke("down", "--config", str(config_file))
    assert stopped.exit_code == 0, stopped.output
    assert not any(pid_alive(pid) for pid in managed.values())
    rows_after, code_after = _status(config_file)
    assert code_after == 1
    assert all(rows_after[name]["pid"] is None for name in managed)
    # A private PostgreSQL cluster is gone too; the configured server, when it answers, is not ours.
    assert all(not rows_after[name]["healthy"] for name in managed if name != "postgres")
    if "postgres" in managed:
        assert rows_after["postgres"]["address"] != rows["postgres"]["address"]


def _assert_scrapes_metrics_endpoints(address: str, config_file) -> None:
    import httpx

    from config.load import load_settings

    metrics = load_settings(config_file).metrics
    wanted = {f"{metrics.host}:{port}" for port in (metrics.edge_port, metrics.flow_port, metrics.api_port)}
    deadline = time.monotonic() + 15  # targets are discovered shortly after /-/ready
    scraped: set[str] = set()
    while not wanted <= scraped and time.monotonic() < deadline:
        time.sleep(0.2)
        targets = httpx.get(f"{address}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        scraped = {t["labels"]["instance"] for t in targets}
    assert wanted <= scraped, scraped


def test_up_replaces_a_stale_pid_file(config_file):
    from config.load import load_settings

    settings = load_settings(config_file)
    pid_file = stack.run_dir(settings) / "pids" / "broker.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text("999999\n")  # no live tansu has this PID: a stale file
    result = _invoke("up", "--only", "broker", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    pid = int(pid_file.read_text())
    assert pid != 999999 and pid_alive(pid)
    assert stack.down(settings, only=["broker"])[0].pid == pid
    assert not pid_alive(pid)


def test_bad_config_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("services:\n  ports:\n    broker: 0\n")
    result = CliRunner().invoke(cli, ["services", "status", "--config", str(path)])
    assert result.exit_code != 0
    assert "services.ports.broker" in result.output
