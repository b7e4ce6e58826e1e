"""``alpr demo``: the main job on its embedded default, end to end on the local stack.

Starts the local services, applies the migrations, runs the plates dataflow
(``python -m bytewax.run flows.plates``) and the edge on the sample clip, waits for the
events to land in PostgreSQL and prints them with their crop URLs. The orchestration lives in
:mod:`alpr.pipeline_run` (shared with ``alpr eval video``).
"""

from __future__ import annotations

from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]


def _echo(line: str) -> None:
    click.echo(line.replace("[run]", "[demo]", 1), err=True)


@click.command("demo")
@click.option(
    "--config",
    "cameras",
    default=str(ROOT / "config" / "cameras.yaml"),
    type=click.Path(dir_okay=False),
    show_default=True,
    help="Cameras of the edge run (merged over config/default.yaml).",
)
@click.option(
    "--wait", "wait_s", default=90.0, show_default=True, help="Seconds to wait for events after the edge ends."
)
def demo(cameras: str, wait_s: float) -> None:
    """Services up, migrate, flow + edge on the sample clip, then print the stored reads."""
    from alpr.pipeline_run import PipelineError, run_pipeline, start_local_stack
    from config.load import DEFAULT_CONFIG, ConfigError, load_settings

    try:
        settings = load_settings(DEFAULT_CONFIG, cameras)
        settings = start_local_stack(settings, _echo)
        run = run_pipeline(settings, [Path(cameras)], wait_s=wait_s, log_name="demo-flow.log", echo=_echo)
    except (ConfigError, PipelineError) as exc:
        raise click.ClickException(str(exc)) from exc

    if not run.events:
        raise click.ClickException(f"no plate events stored within {wait_s:.0f} s; see {run.flow_log}")
    click.echo(f"\nplate events stored since {run.since:%H:%M:%S} UTC (SQL: plate_events):")
    headers = ("first_seen", "camera", "plate", "raw", "region", "conf", "passes", "crop_url")
    rows = [
        (e.first_seen, e.camera_id, e.plate, e.plate_raw, e.region, e.confidence, e.sightings, e.crop_url)
        for e in run.events
    ]
    table = [headers, *[tuple("-" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers) - 1)]
    for r in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    click.echo(f"\n{len(rows)} event(s); {run.rejected} rejected read(s) in rejected_reads.")
