"""``alpr demo``: the main job on its embedded default, end to end on the local stack.

Starts the local services, applies the migrations, runs the plates dataflow
(``python -m bytewax.run flows.plates``) and the edge on the sample clip, waits for the
events to land in PostgreSQL and prints them with their crop URLs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]


def _run(step: str, args: list[str], env: dict[str, str]) -> None:
    click.echo(f"[demo] {step}: {' '.join(args)}", err=True)
    result = subprocess.run(args, env=env, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"{step} failed (exit {result.returncode})")


def _events_since(url: str, since: datetime, camera_ids: list[str]) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(
            """
            SELECT first_seen, camera_id, plate, plate_raw, region, round(confidence::numeric, 3),
                   sightings, crop_url
              FROM plate_events
             WHERE updated_at >= %s AND camera_id = ANY(%s)
             ORDER BY first_seen
            """,
            (since, camera_ids),
        ).fetchall()


def _rejected_since(url: str, since: datetime, camera_ids: list[str]) -> int:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM rejected_reads WHERE observed_at >= %s AND camera_id = ANY(%s)",
            (since, camera_ids),
        ).fetchone()
    return int(row[0]) if row else 0


@click.command("demo")
@click.option(
    "--config", "cameras", default=str(ROOT / "config" / "cameras.yaml"), type=click.Path(dir_okay=False),
    show_default=True, help="Cameras of the edge run (merged over config/default.yaml).",
)
@click.option(
    "--wait", "wait_s", default=90.0, show_default=True, help="Seconds to wait for events after the edge ends."
)
def demo(cameras: str, wait_s: float) -> None:
    """Services up, migrate, flow + edge on the sample clip, then print the stored reads."""
    from config.load import DEFAULT_CONFIG, ConfigError, load_settings
    from services.stack import run_dir

    try:
        settings = load_settings(DEFAULT_CONFIG, cameras)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    alpr = [sys.executable, "-m", "alpr.cli"]
    env = dict(os.environ)
    _run("services", [*alpr, "services", "up"], env)
    url_file = run_dir(settings) / "database_url"
    url = url_file.read_text().strip() if url_file.exists() else settings.database.url.get_secret_value()
    env["ALPR_DATABASE__URL"] = url
    _run("database", [*alpr, "db", "migrate"], env)

    since = datetime.now(UTC)
    logs = run_dir(settings) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    flow_log = (logs / "demo-flow.log").open("ab")
    click.echo(f"[demo] flow: python -m bytewax.run flows.plates (log: {logs / 'demo-flow.log'})", err=True)
    flow = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bytewax.run", "flows.plates"], cwd=ROOT, env=env, stdout=flow_log, stderr=flow_log
    )
    try:
        _run("edge", [*alpr, "edge", "--config", cameras, "--no-status"], env)
        camera_ids = [c.id for c in settings.edge.cameras]
        click.echo(f"[demo] waiting up to {wait_s:.0f} s for the flow to store the events ...", err=True)
        deadline = time.monotonic() + wait_s
        rows: list[tuple] = []
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            if flow.poll() is not None:
                raise click.ClickException(f"the flow exited with {flow.returncode}; see {logs / 'demo-flow.log'}")
            latest = _events_since(url, since, camera_ids)
            if latest != rows:
                rows, stable_since = latest, time.monotonic()
            # Tracks close after flow.track_idle_s of event time; give the last ones time to land.
            if rows and time.monotonic() - stable_since > max(10.0, 3 * settings.flow.track_idle_s):
                break
            time.sleep(1.0)
    finally:
        flow.send_signal(signal.SIGINT)
        try:
            flow.wait(timeout=20)
        except subprocess.TimeoutExpired:
            flow.kill()
        flow_log.close()

    if not rows:
        raise click.ClickException(f"no plate events stored within {wait_s:.0f} s; see {logs / 'demo-flow.log'}")
    click.echo(f"\nplate events stored since {since:%H:%M:%S} UTC (SQL: plate_events):")
    headers = ("first_seen", "camera", "plate", "raw", "region", "conf", "passes", "crop_url")
    table = [headers, *[tuple("-" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers) - 1)]
    for r in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    rejected = _rejected_since(url, since, camera_ids)
    click.echo(f"\n{len(rows)} event(s); {rejected} rejected read(s) in rejected_reads.")
