"""deploy/docker-compose.yml's own commands, run as a deployment would run them (no Docker here).

One run of the stack on fresh volumes (a private broker, registry and S3 store, an empty
database), through :mod:`tests.deploy.compose_twin`: the one-shot ``init``, the flow, the API
and the edge on the sample clip, each with its compose command, environment, volumes, secrets
and healthcheck, with the deploy Prometheus configuration (targets mapped) scraping them and
evaluating the alert rules. A receiver outside the stack gets the watchlist alert and opens its
crop link. Then the flow is stopped and started again on the same recovery directory, as
``docker compose up`` does after ``init``. The tests below check what each part left behind.

``ALPR_TEST_COMPOSE=/path/to/docker-compose.yml`` runs the same checks on another compose file
(the pre-issue-14 file fails them: no recovery partitions, spool outside the volume, no healthchecks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services import stack
from services.prometheus import prometheus_binary
from tests.deploy.compose_twin import COMPOSE_FILE, ROOT, Proc, ServiceFailed, Twin, free_port, render
from tests.fixtures.stack import STACK_SERVICES, start_stack

pytestmark = pytest.mark.integration

COMPOSE = Path(os.environ.get("ALPR_TEST_COMPOSE", COMPOSE_FILE))
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
RULES = ROOT / "deploy" / "prometheus" / "rules"
PLATE = "LZW9715"  # the sample clip's plate
WEBHOOK_SECRET = "compose-test-" + secrets.token_hex(8)
RATE_INTERVAL = "1m"  # what Grafana's $__rate_interval stands for in the panel queries
# What deploy/.env would hold (the pre-issue-14 file wanted its passwords there).
RENDER_ENV = {"S3_PUBLIC_ENDPOINT": "localhost:9000", "POSTGRES_PASSWORD": "x", "MINIO_ROOT_PASSWORD": "secret123"}


# --- a receiver outside the stack ------------------------------------------------------------


@dataclass
class Delivery:
    """One webhook request as the receiver got it."""

    headers: dict[str, str]
    body: bytes

    @property
    def alert(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """An HTTP endpoint on loopback that records every webhook POST and answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                outer.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alpr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Prometheus with the deploy configuration ---------------------------------------------------


def prometheus_config(twin: Twin, port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its platform targets mapped, a 0.5 s scrape interval
    (the edge reads the sample clip in seconds), the repository's rule files and no Alertmanager.
    Jobs of the exporters (their processes are not part of this run) are left out."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "500ms", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES / "*.yml")]
    config.pop("alerting", None)
    platform = set(twin.platform_services())
    jobs = []
    for job in config["scrape_configs"]:
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        if job["job_name"] == "prometheus":
            mapped = [f"127.0.0.1:{port}"]
        else:
            mapped = [
                twin.local_address(h, int(p)) for h, _, p in (t.rpartition(":") for t in targets) if h in platform
            ]
        if mapped:
            jobs.append({**job, "static_configs": [{"targets": mapped}]})
    config["scrape_configs"] = jobs
    return config


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/api/v1/query_range",
            params={"query": expr, "start": start, "end": end, "step": step},
            timeout=30,
        )
        return response.json()

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30).json()
        return body.get("data", {}).get("result", [])


def start_prometheus(twin: Twin, root: Path) -> Prometheus:
    binary = prometheus_binary()
    if binary is None:
        pytest.skip("prometheus is not installed (apt prometheus; scripts/install-system-deps.sh)")
    port = free_port()
    config = root / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(twin, port), sort_keys=False))
    log = (root / "logs" / "prometheus.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [
            str(binary),
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={root / 'prometheus-data'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return Prometheus(url, proc)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise ServiceFailed(f"prometheus did not start: {(root / 'logs' / 'prometheus.log').read_text()[-2000:]}")


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one run of the compose stack left behind, for the tests to check."""

    twin: Twin
    one_shot_output: list[str] = field(default_factory=list)
    one_shot_output_again: list[str] = field(default_factory=list)
    recovery_before: dict[str, int] = field(default_factory=dict)
    recovery_after: dict[str, int] = field(default_factory=dict)
    flow_healthy_s: list[float] = field(default_factory=list)
    spool_files: list[str] = field(default_factory=list)
    delivery: Delivery | None = None
    crop: httpx.Response | None = None
    unsigned_crop: httpx.Response | None = None
    panels: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    variables: list[tuple[str, str, list[str]]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    dead_letters_seen: bool = False
    process_jobs: dict[str, set[str]] = field(default_factory=dict)  # metric -> jobs that exported it


def _recovery_parts(twin: Twin) -> dict[str, int]:
    """Recovery partition files (name -> inode) in the flow's volumes."""
    out = {}
    for path in twin.paths("flow").values():
        if path.is_dir():
            out.update({p.name: p.stat().st_ino for p in path.glob("part-*.sqlite3")})
    return out


def _api_url(twin: Twin) -> str:
    return "http://" + twin.local_address("api", 18000)


def _make_watchlist(twin: Twin, channel: str) -> None:
    """As docs/operate.md says: an admin key (`alpr api keys create` in the api container), then a
    watchlist for the sample plate that alerts on ``channel``, through the HTTP API."""
    out = twin.run("api", ["alpr", "api", "keys", "create", "compose-test", "--role", "admin"], timeout_s=60)
    token = next(line for line in out.splitlines() if line.startswith("alpr_"))
    headers = {"X-API-Key": token}
    api = _api_url(twin)
    created = httpx.post(f"{api}/watchlists", json={"name": "compose-test", "channels": [channel]}, headers=headers)
    assert created.status_code == 201, created.text
    entry = httpx.post(f"{api}/watchlists/{created.json()['id']}/entries", json={"pattern": PLATE}, headers=headers)
    assert entry.status_code == 201, entry.text


def _api_request_rate(twin: Twin, prometheus: Prometheus) -> list[dict[str, Any]]:
    """One more request to the API, then whether Prometheus sees API requests as a rate."""
    httpx.get(f"{_api_url(twin)}/ready", timeout=10)
    return prometheus.query("sum(rate(alpr_api_request_duration_seconds_count[1m])) > 0")


def _inject_bad_crop(twin: Twin) -> None:
    """A message that is not Avro on the crops topic: the flow must dead-letter it and go on."""
    from confluent_kafka import Producer

    from config.kafka import KafkaSettings, client_config

    kafka = KafkaSettings(bootstrap_servers=twin.infra["kafka"])
    producer = Producer(client_config(kafka, **{"linger.ms": 0}))
    producer.produce(kafka.topics.crops, key=b"sample-1", value=b"not an avro message")
    assert producer.flush(30) == 0


def _panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every panel target of every dashboard file."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL).replace("$camera", ".*")
                out.append((board["uid"], panel["title"], expr))
    return out


def _variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, variable, label_values query) of every dashboard variable."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for var in board["templating"]["list"]:
            out.append((board["uid"], var["name"], var["definition"]))
    return out


def _finite_points(result: dict[str, Any]) -> int:
    values = [v for series in result.get("data", {}).get("result", []) for _, v in series.get("values", [])]
    return sum(1 for v in values if v not in ("NaN", "+Inf", "-Inf"))


def _wait(what: str, check: Any, timeout_s: float, interval_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)  # polling an observable state
    raise ServiceFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, make_database) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("compose")
    settings = start_stack(root / "stack")  # fresh broker, registry and S3: fresh volumes
    database = make_database(migrated=False)  # an empty database: `init` migrates it
    receiver = Receiver()
    db_host = re.search(r"@([^/]+)/", database)
    channels = [{"name": "receiver", "type": "webhook", "url": receiver.url, "secret": WEBHOOK_SECRET, "timeout_s": 5}]
    twin = Twin(
        config=render(COMPOSE, RENDER_ENV),
        root=root,
        infra={
            "kafka": settings.kafka.bootstrap_servers,
            "schema-registry": settings.kafka.schema_registry_url.removeprefix("http://"),
            "minio": settings.s3.endpoint,
            "timescaledb": db_host.group(1) if db_host else "127.0.0.1:5432",
        },
        database_url=database,
        secrets={
            "postgres_password": "unused-with-trust-auth",
            "minio_root_password": settings.s3.secret_key.get_secret_value(),
            "grafana_admin_password": "unused",
        },
        # The operator's alert channel (docs/operate.md: in alpr.yaml or the environment).
        extra_env={"flow": {"ALPR_FLOW__ALERTS__CHANNELS": json.dumps(channels)}},
    )
    result = Run(twin)
    procs: list[Proc] = []
    prometheus: Prometheus | None = None
    started = time.time()
    try:
        for name in twin.one_shots():
            result.one_shot_output.append(twin.run(name, timeout_s=180))
        result.recovery_before = _recovery_parts(twin)

        prometheus = start_prometheus(twin, root)
        api = twin.start("api")
        procs.append(api)
        twin.wait_healthy(api, 90)
        _make_watchlist(twin, "receiver")

        flow = twin.start("flow")
        procs.append(flow)
        # Healthy before any crop is published: /metrics is up when the dataflow starts.
        result.flow_healthy_s.append(twin.wait_healthy(flow, 180))

        _inject_bad_crop(twin)
        twin.run("edge", timeout_s=240)
        result.spool_files = sorted(
            str(p.relative_to(root)) for d in twin.paths("edge").values() if d.is_dir() for p in d.iterdir()
        )

        if not receiver.arrived.wait(180):
            raise ServiceFailed(f"no alert reached the receiver\n{flow.tail()}")
        result.delivery = receiver.deliveries[0]
        crop_url = result.delivery.alert["crop_url"]
        result.crop = httpx.get(crop_url, timeout=10)
        result.unsigned_crop = httpx.get(crop_url.split("?")[0], timeout=10)

        # Prometheus has scraped the delivery and the dead letter: every panel can show them.
        _wait(
            "the delivered alert in Prometheus",
            lambda: prometheus.query('alpr_flow_alert_deliveries_total{outcome="delivered"} > 0'),
            60,
        )
        result.dead_letters_seen = bool(
            _wait("the dead letter in Prometheus", lambda: prometheus.query("alpr_flow_dead_letters_total > 0"), 60)
        )
        # The API panels are rates: the API must serve requests after Prometheus first scraped it
        # (under load its only requests, the health checks and the watchlist, can all come before).
        _wait("the API in Prometheus", lambda: prometheus.query("alpr_api_requests_total"), 60)
        _wait(
            "API requests as a rate in Prometheus",
            lambda: _api_request_rate(twin, prometheus),
            60,
        )
        time.sleep(2)  # two more evaluations of the rules with every series present
        end = time.time()
        for board, title, expr in _panel_queries():
            result.panels.append((board, title, expr, prometheus.query_range(expr, started, end, 1.0)))
        for board, name, definition in _variable_queries():
            metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", definition).groups()
            values = httpx.get(f"{prometheus.url}/api/v1/label/{label}/values", params={"match[]": metric}).json()
            result.variables.append((board, name, values.get("data", [])))
        result.rules = httpx.get(f"{prometheus.url}/api/v1/rules").json()["data"]["groups"]
        for metric in ("alpr_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes"):
            series = prometheus.query_range(f"count by (job) ({metric})", started, end, 1.0)
            result.process_jobs[metric] = {s["metric"]["job"] for s in series["data"]["result"]}

        # `docker compose stop flow` then `up`: init runs again, the flow restarts on its volume.
        flow.stop(grace_s=10)
        for name in twin.one_shots():
            result.one_shot_output_again.append(twin.run(name, timeout_s=180))
        result.recovery_after = _recovery_parts(twin)
        again = twin.start("flow")
        procs.append(again)
        result.flow_healthy_s.append(twin.wait_healthy(again, 180))
        again.stop(grace_s=10)
        yield result
    finally:
        for proc in procs:
            proc.stop(grace_s=5)
        if prometheus is not None:
            prometheus.proc.terminate()
            prometheus.proc.wait(10)
        receiver.close()
        stack.down(settings, only=STACK_SERVICES, grace_s=5.0)
        if os.environ.get("ALPR_KEEP_COMPOSE_LOGS"):
            shutil.copytree(root / "logs", Path(os.environ["ALPR_KEEP_COMPOSE_LOGS"]), dirs_exist_ok=True)


# --- what the run shows ----------------------------------------------------------------------------


def test_init_creates_recovery_partitions_once_and_keeps_them(run: Run) -> None:
    assert run.recovery_before, "no recovery partitions in the flow's volume after the one-shot services"
    assert run.recovery_after == run.recovery_before  # same files (inodes): never re-created
    assert "created 2 partition(s)" in "\n".join(run.one_shot_output)
    assert "kept the 2 partition(s)" in "\n".join(run.one_shot_output_again)


def test_flow_starts_twice_on_one_recovery_dir_and_is_healthy_before_any_crop(run: Run) -> None:
    assert len(run.flow_healthy_s) == 2


def test_edge_spools_into_its_mounted_volume(run: Run) -> None:
    spool = [f for f in run.spool_files if f.startswith("volumes/")]
    assert any(f.endswith(".seg") for f in spool), run.spool_files
    assert any(f.endswith("cursor") for f in spool), run.spool_files


def test_api_answers_its_healthcheck(run: Run) -> None:
    probe = run.twin.probe("api")  # the API of the run still serves (stopped at module teardown)
    assert probe.returncode == 0, probe.stdout + probe.stderr


def test_receiver_outside_the_stack_opens_the_crop_link_of_its_alert(run: Run) -> None:
    assert run.delivery is not None
    alert = run.delivery.alert
    assert alert["plate"] == PLATE
    link = urllib.parse.urlsplit(alert["crop_url"])
    assert link.netloc.startswith("localhost:")  # the public endpoint, not the internal one
    assert "X-Amz-Signature" in link.query and "X-Amz-Expires" in link.query
    assert run.crop is not None and run.crop.status_code == 200, run.crop.text if run.crop else None
    assert run.crop.content[:3] == b"\xff\xd8\xff"  # a JPEG
    assert run.unsigned_crop is not None and run.unsigned_crop.status_code == 403  # the bucket is private


def test_every_dashboard_panel_returns_data(run: Run) -> None:
    assert len(run.panels) >= 40
    empty = [
        f"{board} / {title}: {expr} -> {result.get('error') or 'no data'}"
        for board, title, expr, result in run.panels
        if result.get("status") != "success" or _finite_points(result) == 0
    ]
    assert not empty, "panels without data:\n" + "\n".join(empty)
    missing = [f"{board} ${name}" for board, name, values in run.variables if not values]
    assert not missing, missing


def test_alert_rules_evaluate_on_the_live_metrics(run: Run) -> None:
    rules = [rule for group in run.rules for rule in group["rules"]]
    assert len(rules) >= 10
    broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
    assert not broken, broken
    assert run.dead_letters_seen


def test_every_process_reports_its_build_and_process_metrics(run: Run) -> None:
    for metric, jobs in run.process_jobs.items():
        assert {"alpr-edge", "alpr-flow", "alpr-api"} <= jobs, metric


def test_every_process_logs_time_level_logger_and_message(run: Run) -> None:
    """The compose file asks for JSON logs: every line the edge, flow and API wrote is one record."""
    checked = 0
    for log in run.twin.logs:
        service = log.stem.split("-", 1)[1]
        if service not in ("edge", "flow", "api") or "keys" in log.read_text().splitlines()[0]:
            continue
        for line in log.read_text().splitlines()[1:]:  # the first line is the command
            record = json.loads(line)
            assert {"time", "level", "logger", "message"} <= record.keys(), line
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"]), line
            checked += 1
    assert checked > 20
    api_log = next(log for log in run.twin.logs if "api serve" in log.read_text().splitlines()[0])
    access = [json.loads(x) for x in api_log.read_text().splitlines()[1:] if '"api.access"' in x]
    assert access and {"method", "path", "status", "duration_ms"} <= access[0].keys()
    assert all("?" not in a["path"] for a in access)  # query strings (plates) stay out of the log


# --- the check fails when the compose file is wrong -----------------------------------------------


def _offline_twin(tmp_path: Path, config: dict[str, Any]) -> Twin:
    """A twin whose infrastructure addresses lead nowhere: enough for commands that fail at start."""
    nowhere = f"127.0.0.1:{free_port()}"
    return Twin(
        config=config,
        root=tmp_path,
        infra={name: nowhere for name in ("kafka", "schema-registry", "minio", "timescaledb")},
        database_url=f"postgresql://postgres@{nowhere}/alpr",
        secrets={"postgres_password": "x", "minio_root_password": "x", "grafana_admin_password": "x"},
    )


def _flow_fails_at_start(twin: Twin, reason: str) -> None:
    proc = twin.start("flow")
    try:
        with pytest.raises(ServiceFailed, match=reason):
            twin.wait_healthy(proc, 120)
    finally:
        proc.stop(grace_s=2)


def test_a_broken_flow_command_fails_the_check(tmp_path: Path) -> None:
    config = render(COMPOSE, RENDER_ENV)
    command = config["services"]["flow"]["command"]
    config["services"]["flow"]["command"] = [("flows.no_such_flow" if a == "flows.plates" else a) for a in command]
    _flow_fails_at_start(_offline_twin(tmp_path, config), "exited with")


def test_the_flow_without_init_fails_on_its_empty_recovery_volume(tmp_path: Path) -> None:
    # What the compose file before issue 14 did: no partitions, Bytewax stops at start.
    _flow_fails_at_start(
        _offline_twin(tmp_path, render(COMPOSE, RENDER_ENV)), "NoPartitionsError|[Nn]o recovery partitions"
    )


def test_webhook_examples_of_operate_md_verify_the_real_delivery(run: Run, tmp_path: Path) -> None:
    assert run.delivery is not None
    blocks = _doc_blocks(ROOT / "docs" / "operate.md")
    timestamp = run.delivery.headers["x-alpr-timestamp"]
    signature = run.delivery.headers["x-alpr-signature"]
    namespace: dict[str, Any] = {}
    exec(blocks["python"], namespace)  # noqa: S102 - the documented example itself
    verify = namespace["verify"]
    secret, body = WEBHOOK_SECRET.encode(), run.delivery.body
    hour = 3600  # the delivery came a while ago (the rest of the run); the example's default is 5 min
    assert verify(secret, timestamp, signature, body, tolerance_s=hour)
    assert not verify(secret, timestamp, signature, body + b" ", tolerance_s=hour)
    assert not verify(b"another secret", timestamp, signature, body, tolerance_s=hour)
    old = str(int(time.time()) - 2 * hour)  # correctly signed, but stale: a replay
    resigned = "sha256=" + hmac.new(secret, old.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert not verify(secret, old, resigned, body, tolerance_s=hour)
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: the JavaScript example was not run")
    data = tmp_path / "delivery.json"
    data.write_text(
        json.dumps(
            {
                "secret": WEBHOOK_SECRET,
                "timestamp": timestamp,
                "signature": signature,
                "body": base64.b64encode(run.delivery.body).decode(),
            }
        )
    )
    script = tmp_path / "verify.js"
    script.write_text(
        blocks["javascript"]
        + "\nconst d = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));"
        + "\nconst body = Buffer.from(d.body, 'base64');"
        + "\nconst good = verify(d.secret, d.timestamp, d.signature, body, 3600);"
        + "\nconst bad = verify(d.secret, d.timestamp, d.signature, Buffer.concat([body, Buffer.from(' ')]), 3600);"
        + "\nprocess.exit(good && !bad ? 0 : 1);\n"
    )
    result = subprocess.run([node, str(script), str(data)], capture_output=True, text=True, timeout=30)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


def _doc_blocks(path: Path) -> dict[str, str]:
    """The code blocks right after ``<!-- webhook-verify -->`` in ``path``, by language."""
    text = path.read_text(encoding="utf-8")
    found = dict(
        (lang, code)
        for lang, code in re.findall(r"<!-- webhook-verify -->\s*```(\w+)\n(.*?)```", text, flags=re.DOTALL)
    )
    assert {"python", "javascript"} <= set(found), f"{path}: webhook examples not found"
    return found
