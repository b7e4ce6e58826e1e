"""Run the edge and the plates flow once, on real services, and collect the events they stored.

Shared by ``alpr demo`` and ``alpr eval video``. :func:`start_local_stack` brings the local
services up (``alpr services up``) and migrates the database (``alpr db migrate``);
:func:`run_pipeline` then starts the flow (``python -m bytewax.run flows.plates``) in the
background, runs ``alpr edge`` on the given cameras to its end, and polls PostgreSQL until the
events of those cameras stop changing. Tests pass the settings of their own services instead of
starting the local stack: every child process gets the service addresses of those settings
through ``ALPR_*`` environment variables (see :func:`child_env`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
ALPR = (sys.executable, "-m", "alpr.cli")
FLOW = (sys.executable, "-m", "bytewax.run", "flows.plates")
POLL_S = 1.0
MIN_SETTLE_S = 10.0
FLOW_STOP_S = 20.0

Echo = Callable[[str], None]


class PipelineError(RuntimeError):
    """A step of the run failed (a child exited non-zero, the flow died, bad cameras config)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of ``plate_events`` written during the run."""

    first_seen: datetime
    camera_id: str
    plate: str
    plate_raw: str | None
    region: str | None
    confidence: float | None
    sightings: int
    crop_url: str | None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """What one edge + flow run stored, and how long it took."""

    since: datetime
    camera_ids: tuple[str, ...]
    events: tuple[StoredEvent, ...]
    rejected: int
    seconds: float
    flow_log: Path


def echo_stderr(line: str) -> None:
    """The default progress printer: one line on stderr."""
    print(line, file=sys.stderr, flush=True)


def child_env(settings: Settings, *, metrics: bool = True, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) plus the service addresses of ``settings``.

    ``ALPR_*`` variables override any YAML file the children read, so the edge and the flow
    talk to exactly the broker, registry, S3 store and database of ``settings``. With
    ``metrics=False`` the children serve no /metrics (no port clashes with a running stack).
    """
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "ALPR_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "ALPR_KAFKA__SCHEMA_REGISTRY_URL": settings.kafka.schema_registry_url,
            "ALPR_S3__ENDPOINT": settings.s3.endpoint,
            "ALPR_S3__SECURE": "true" if settings.s3.secure else "false",
            "ALPR_S3__ACCESS_KEY": settings.s3.access_key,
            "ALPR_S3__SECRET_KEY": settings.s3.secret_key.get_secret_value(),
            "ALPR_S3__BUCKET": settings.s3.bucket,
            "ALPR_DATABASE__URL": settings.database.url.get_secret_value(),
        }
    )
    if not metrics:
        env["ALPR_METRICS__ENABLED"] = "false"
    return env


def run_step(
    step: str, args: Sequence[str], env: Mapping[str, str], echo: Echo = echo_stderr, *, stdout: int | None = None
) -> None:
    """Run one child to its end in the repo root; raise :class:`PipelineError` on a non-zero exit.

    ``stdout`` is where the child's standard output goes (a file descriptor; default: ours).
    """
    echo(f"[run] {step}: {' '.join(args)}")
    result = subprocess.run(list(args), env=dict(env), cwd=ROOT, stdout=stdout, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PipelineError(f"{step} failed (exit {result.returncode})")


def start_local_stack(settings: Settings, echo: Echo = echo_stderr, *, child_stdout: int | None = None) -> Settings:
    """``alpr services up`` and ``alpr db migrate``; return ``settings`` with the database actually used.

    ``services up`` may fall back to a private PostgreSQL cluster; it records that URL in
    ``<run_dir>/database_url``. ``child_stdout``: where the children print (default: our stdout;
    ``2`` keeps stdout for a report).
    """
    from pydantic import SecretStr

    from services.stack import run_dir

    env = dict(os.environ)
    run_step("services", [*ALPR, "services", "up"], env, echo, stdout=child_stdout)
    url_file = run_dir(settings) / "database_url"
    url = url_file.read_text().strip() if url_file.exists() else settings.database.url.get_secret_value()
    settings = settings.model_copy(update={"database": settings.database.model_copy(update={"url": SecretStr(url)})})
    run_step("database", [*ALPR, "db", "migrate"], child_env(settings), echo, stdout=child_stdout)
    return settings


def camera_ids(edge_configs: Sequence[Path]) -> tuple[str, ...]:
    """The camera ids ``alpr edge --config ...`` runs with ``edge_configs`` (merged over the default)."""
    from config.load import DEFAULT_CONFIG, ConfigError, load_settings

    try:
        cameras = load_settings(DEFAULT_CONFIG, *edge_configs).edge.cameras
    except ConfigError as exc:
        raise PipelineError(str(exc)) from exc
    if not cameras:
        raise PipelineError("no cameras configured (edge.cameras is empty)")
    return tuple(c.id for c in cameras)


def stored_events(url: str, since: datetime, cameras: Sequence[str]) -> tuple[StoredEvent, ...]:
    """Rows of ``plate_events`` of ``cameras`` seen (frame time) at or after ``since``, oldest first.

    Frame time, not write time: a flow that replays older crops of the topic rewrites older events.
    """
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            rows = conn.execute(
                """
                SELECT first_seen, camera_id, plate, plate_raw, region, confidence, sightings, crop_url,
                       vehicle_type, vehicle_colour
                  FROM plate_events
                 WHERE last_seen >= %s AND camera_id = ANY(%s)
                 ORDER BY first_seen, plate
                """,
                (since, list(cameras)),
            ).fetchall()
    except psycopg.Error as exc:
        raise PipelineError(f"cannot read plate_events: {exc}") from exc
    return tuple(
        StoredEvent(
            first_seen=r[0],
            camera_id=r[1],
            plate=r[2],
            plate_raw=r[3],
            region=r[4],
            confidence=None if r[5] is None else round(float(r[5]), 3),
            sightings=int(r[6] or 0),
            crop_url=r[7],
            vehicle_type=r[8],
            vehicle_colour=r[9],
        )
        for r in rows
    )


def rejected_reads(url: str, since: datetime, cameras: Sequence[str]) -> int:
    """How many reads of ``cameras`` the flow rejected at or after ``since``."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM rejected_reads WHERE observed_at >= %s AND camera_id = ANY(%s)",
                (since, list(cameras)),
            ).fetchone()
    except psycopg.Error as exc:
        raise PipelineError(f"cannot read rejected_reads: {exc}") from exc
    return int(row[0]) if row else 0


def _stop(flow: subprocess.Popen[bytes]) -> None:
    if flow.poll() is not None:
        return
    flow.send_signal(signal.SIGINT)
    try:
        flow.wait(timeout=FLOW_STOP_S)
    except subprocess.TimeoutExpired:
        flow.kill()
        flow.wait()


def run_pipeline(
    settings: Settings,
    edge_configs: Sequence[Path],
    *,
    wait_s: float = 90.0,
    flow_configs: Sequence[Path] = (),
    metrics: bool = True,
    log_name: str = "pipeline-flow.log",
    echo: Echo = echo_stderr,
    child_stdout: int | None = None,
) -> PipelineRun:
    """Flow in the background, edge on ``edge_configs`` to its end, then the events it stored.

    ``settings`` name the services (already running, database migrated). ``flow_configs`` become
    the flow's ``$ALPR_CONFIG`` (default: the inherited one, else config/default.yaml); the flow
    logs to ``<run_dir>/logs/<log_name>``, the edge prints to ``child_stdout`` (default: our
    stdout) and our stderr. After the edge ends, the database is polled for up to ``wait_s``
    seconds; once there are events, the run ends when they have not changed for
    ``max(10 s, 3 x flow.track_idle_s)`` (open tracks close after ``track_idle_s``). A run that
    stores nothing returns no events after ``wait_s``.
    Raises :class:`PipelineError` when the edge fails or the flow exits early.
    """
    from services.stack import run_dir

    started = time.monotonic()
    env = child_env(settings, metrics=metrics)
    if flow_configs:
        env["ALPR_CONFIG"] = ":".join(str(Path(p).resolve()) for p in flow_configs)
    cameras = camera_ids(edge_configs)
    url = settings.database.url.get_secret_value()
    logs = run_dir(settings) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    flow_log_path = logs / log_name

    since = datetime.now(UTC)
    echo(f"[run] flow: python {' '.join(FLOW[1:])} (log: {flow_log_path})")
    with flow_log_path.open("ab") as flow_log:
        flow = subprocess.Popen(list(FLOW), cwd=ROOT, env=env, stdout=flow_log, stderr=flow_log)  # noqa: S603
        try:
            edge = [*ALPR, "edge", "--no-status"]
            for path in edge_configs:
                edge += ["--config", str(path)]
            run_step("edge", edge, env, echo, stdout=child_stdout)
            settle_s = max(MIN_SETTLE_S, 3 * settings.flow.track_idle_s)
            echo(f"[run] waiting up to {wait_s:.0f} s for the flow to store the events of {', '.join(cameras)} ...")
            deadline = time.monotonic() + wait_s
            events: tuple[StoredEvent, ...] = ()
            stable_since = time.monotonic()
            while time.monotonic() < deadline:
                if flow.poll() is not None:
                    raise PipelineError(f"the flow exited with {flow.returncode}; see {flow_log_path}")
                latest = stored_events(url, since, cameras)
                if latest != events:
                    events, stable_since = latest, time.monotonic()
                if events and time.monotonic() - stable_since > settle_s:
                    break
                time.sleep(POLL_S)
        finally:
            _stop(flow)
    rejected = rejected_reads(url, since, cameras)
    return PipelineRun(
        since=since,
        camera_ids=cameras,
        events=events,
        rejected=rejected,
        seconds=time.monotonic() - started,
        flow_log=flow_log_path,
    )
