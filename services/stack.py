"""Bring the local service stack up and down, and report its status.

Services start in waves: everything whose dependencies are healthy is launched at once, then
each is health-checked against ``services.start_timeout_s``. ``up`` is idempotent: a service
whose PID file names a live process is only health-checked. Processes run in their own
session, so they outlive the CLI; ``down`` stops them by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from services.base import Health, Service, Skip
from services.broker import Broker
from services.objectstore import ObjectStore
from services.postgres import Postgres
from services.process import (
    Launch,
    ProcessFiles,
    ServiceError,
    command_line,
    pid_alive,
    port_in_use,
    read_pid,
    spawn,
    stop_pid,
)
from services.prometheus import Prometheus
from services.schema_registry import SchemaRegistry

log = logging.getLogger(__name__)

SERVICE_NAMES: tuple[str, ...] = ("s3", "broker", "registry", "postgres", "prometheus")
STOP_GRACE_S = 10.0
PROBE_INTERVAL_S = 0.1


@dataclass(frozen=True)
class StartReport:
    """Outcome of ``up`` for one service."""

    name: str
    state: str  # "started" | "running" (was already) | "external" | "skipped" | "failed"
    pid: int | None
    address: str
    seconds: float
    detail: str

    @property
    def ok(self) -> bool:
        return self.state != "failed"


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``status``."""

    name: str
    pid: int | None
    address: str
    healthy: bool
    detail: str


@dataclass(frozen=True)
class StopReport:
    """Outcome of ``down`` for one service."""

    name: str
    pid: int | None
    killed: bool
    detail: str


def run_dir(settings: Settings) -> Path:
    """The absolute run dir of the stack."""
    return settings.services.run_dir.expanduser().resolve()


def build_services(settings: Settings) -> dict[str, Service]:
    """Every service of the stack, by name, in start order."""
    root = run_dir(settings)
    services: list[Service] = [
        ObjectStore(settings, root),
        Broker(settings),
        SchemaRegistry(settings),
        Postgres(settings, root),
        Prometheus(settings, root),
    ]
    return {s.name: s for s in services}


def select(services: dict[str, Service], only: Iterable[str] | None) -> list[str]:
    """The names to act on: ``only`` plus their dependencies (all when ``only`` is empty), in order."""
    wanted = list(only or ())
    unknown = [n for n in wanted if n not in services]
    if unknown:
        raise ServiceError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(services)}")
    if not wanted:
        return list(services)
    chosen: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name not in chosen:
            chosen.add(name)
            pending.extend(services[name].depends_on)
    return [n for n in services if n in chosen]


def _waves(services: dict[str, Service], names: Sequence[str]) -> list[list[str]]:
    remaining = list(names)
    done: set[str] = set()
    waves = []
    while remaining:
        wave = [n for n in remaining if all(d in done or d not in names for d in services[n].depends_on)]
        if not wave:
            raise ServiceError(f"dependency cycle among {remaining}")
        waves.append(wave)
        done.update(wave)
        remaining = [n for n in remaining if n not in done]
    return waves


def up(settings: Settings, only: Iterable[str] | None = None, *, die_with_parent: bool = False) -> list[StartReport]:
    """Start the selected services (and their dependencies); never raises for one service's failure.

    ``die_with_parent`` (tests) makes the kernel stop the services when this process dies.
    """
    services = build_services(settings)
    names = select(services, only)
    root = run_dir(settings)
    timeout_s = settings.services.start_timeout_s
    reports: dict[str, StartReport] = {}
    for wave in _waves(services, names):
        todo = []
        for name in wave:
            service = services[name]
            failed_deps = [d for d in service.depends_on if d in reports and not _usable(reports[d])]
            off = service.disabled()
            if failed_deps:
                detail = f"dependency not running: {', '.join(failed_deps)}"
                reports[name] = StartReport(name, "failed", None, service.address(), 0.0, detail)
            elif off:
                reports[name] = StartReport(name, "skipped", None, service.address(), 0.0, off)
            else:
                todo.append(name)
        # Each service of a wave is prepared and health-checked in its own thread, so one slow
        # step (initdb) delays no other service and each reported time is the service's own.
        # Processes are spawned from this thread: a PDEATHSIG child dies with the thread that forked it.
        with ThreadPoolExecutor(max_workers=max(1, 2 * len(todo))) as pool:
            prepared = {pool.submit(_prepare, services[name]): (name, time.monotonic()) for name in todo}
            waits = {}
            for future in as_completed(prepared):
                name, started = prepared[future]
                service, files = services[name], ProcessFiles(root, name)
                outcome = future.result()
                if isinstance(outcome, StartReport | Skip):
                    reports[name] = outcome if isinstance(outcome, StartReport) else _skipped(service, outcome, started)
                    continue
                pid = read_pid(files, service.identity())
                was_running = pid is not None
                if pid is not None and command_line(pid) != outcome.argv:
                    detail = (
                        f"pid {pid} runs with other settings ({' '.join(command_line(pid))}); "
                        f"stop it first: alpr services down --only {name}"
                    )
                    reports[name] = StartReport(name, "failed", pid, service.address(), 0.0, detail)
                    continue
                if pid is None:
                    try:
                        pid = _spawn(service, files, outcome, die_with_parent)
                    except ServiceError as exc:
                        reports[name] = StartReport(name, "failed", None, service.address(), 0.0, str(exc))
                        continue
                waits[name] = pool.submit(_await_healthy, service, files, pid, started, timeout_s, was_running)
            for name, wait in waits.items():
                reports[name] = wait.result()
    return [reports[n] for n in names]


def _prepare(service: Service) -> Launch | Skip | StartReport:
    try:
        return service.prepare()
    except Exception as exc:  # noqa: BLE001 - reported per service
        log.debug("%s: prepare failed", service.name, exc_info=True)
        return StartReport(service.name, "failed", None, service.address(), 0.0, str(exc))


def _spawn(service: Service, files: ProcessFiles, launch: Launch, die_with_parent: bool) -> int:
    busy = [p for p in service.ports() if port_in_use(p)]
    if busy:
        raise ServiceError(f"port(s) {', '.join(map(str, busy))} already in use by a process not managed here")
    return spawn(files, launch, die_with_parent=die_with_parent)


def _usable(report: StartReport) -> bool:
    return report.state in ("started", "running", "external")


def _skipped(service: Service, plan: Skip, started: float) -> StartReport:
    if not plan.external:
        log.warning("%s: not started: %s", service.name, plan.reason)
        return StartReport(service.name, "skipped", None, service.address(), 0.0, plan.reason)
    health = service.probe()
    state = "external" if health.ok else "failed"
    return StartReport(
        service.name,
        state,
        None,
        service.address(),
        time.monotonic() - started,
        f"{plan.reason}; {health.detail}",
    )


def _await_healthy(
    service: Service, files: ProcessFiles, pid: int, started: float, timeout_s: float, was_running: bool
) -> StartReport:
    health = wait_until(service.probe, timeout_s=timeout_s, pid=pid)
    ok, detail = health.ok, health.detail
    if ok:
        try:
            service.after_start()
        except Exception as exc:  # noqa: BLE001 - reported per service
            ok, detail = False, f"post-start step failed: {type(exc).__name__}: {exc}"
        else:
            detail = service.probe().detail  # what after_start changed (buckets...)
    seconds = time.monotonic() - started
    if not ok:
        detail = f"{detail}\n--- last lines of {files.log_file}:\n{files.log_tail()}"
        return StartReport(service.name, "failed", pid, service.address(), seconds, detail)
    return StartReport(service.name, "running" if was_running else "started", pid, service.address(), seconds, detail)


def wait_until(probe: Callable[[], Health], *, timeout_s: float, pid: int | None = None) -> Health:
    """Poll ``probe`` until healthy, the deadline passes, or the process ``pid`` exits."""
    deadline = time.monotonic() + timeout_s
    health = probe()
    while not health.ok:
        if pid is not None and not pid_alive(pid):
            return Health(False, f"process {pid} exited ({health.detail})")
        if time.monotonic() >= deadline:
            return Health(False, f"not healthy after {timeout_s:.0f}s ({health.detail})")
        time.sleep(PROBE_INTERVAL_S)
        health = probe()
    return health


def status(settings: Settings, only: Iterable[str] | None = None) -> list[ServiceStatus]:
    """PID, address and a fresh health probe of each selected service."""
    services = build_services(settings)
    root = run_dir(settings)
    rows = []
    for name in select(services, only):
        service = services[name]
        if service.disabled():
            continue
        pid = _running_pid(service, ProcessFiles(root, name))
        health = service.probe()
        detail = health.detail
        if pid is None and health.ok:
            detail = f"not managed here; {detail}"
        rows.append(ServiceStatus(name, pid, service.address(), health.ok, detail))
    return rows


def _running_pid(service: Service, files: ProcessFiles) -> int | None:
    return read_pid(files, service.identity())


def down(settings: Settings, only: Iterable[str] | None = None, *, grace_s: float = STOP_GRACE_S) -> list[StopReport]:
    """Stop the selected services by PID, dependents first. Services not running are reported as such."""
    services = build_services(settings)
    names = list(only) if only else list(services)
    select(services, names)  # validates the names
    root = run_dir(settings)
    reports = []
    for name in reversed([n for n in services if n in names]):
        files = ProcessFiles(root, name)
        service = services[name]
        pid = _running_pid(service, files)
        if pid is None:
            reports.append(StopReport(name, None, False, "not running"))
            continue
        killed = stop_pid(pid, sig=service.stop_signal, grace_s=grace_s)
        files.pid_file.unlink(missing_ok=True)
        service.after_stop()
        reports.append(StopReport(name, pid, killed, "killed (SIGKILL)" if killed else "stopped"))
    return reports
