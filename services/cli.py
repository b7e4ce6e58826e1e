"""``alpr services up|down|status``: the local dev/test stack on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict

import click

from config.load import ConfigError, load_settings
from config.settings import Settings
from services import stack
from services.process import ServiceError


def _settings(config: Sequence[str], broker_storage: str | None = None) -> Settings:
    try:
        settings = load_settings(*config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if broker_storage is not None:
        local = settings.services.model_copy(update={"broker_storage": broker_storage})
        settings = settings.model_copy(update={"services": local})
    return settings


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i].splitlines()[0] if row[i] else "") for row in cells) for i in range(len(headers) - 1)]
    lines = []
    for row in cells:
        first, *rest = row[-1].splitlines() or [""]
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + first)
        lines.extend("    " + extra for extra in rest)
    return "\n".join(lines)


config_option = click.option(
    "--config",
    "config",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="YAML settings file (repeatable; default: $ALPR_CONFIG or config/default.yaml).",
)


@click.group()
def services() -> None:
    """Local broker, S3 store, schema registry, PostgreSQL and Prometheus (dev/test only)."""


@services.command()
@config_option
@click.option(
    "--memory/--durable",
    "memory",
    default=None,
    help="Broker storage: memory (fast, lost on stop) or durable in the local S3 (default: settings).",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(stack.SERVICE_NAMES),
    help="Start only this service and what it needs (repeatable).",
)
def up(config: tuple[str, ...], memory: bool | None, only: tuple[str, ...]) -> None:
    """Start the services (a no-op for those already healthy) and print how long each took."""
    storage = None if memory is None else ("memory" if memory else "s3")
    settings = _settings(config, storage)
    started = time.monotonic()
    try:
        reports = stack.up(settings, only=only or None)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    total = time.monotonic() - started
    rows = [(r.name, r.state, r.pid, r.address, f"{r.seconds:.2f}s", r.detail) for r in reports]
    click.echo(_table(("service", "state", "pid", "address", "time", "detail"), rows))
    click.echo(f"run dir: {stack.run_dir(settings)}")
    click.echo(f"total startup time: {total:.2f}s")
    failed = [r.name for r in reports if not r.ok]
    if failed:
        raise click.ClickException(f"not running: {', '.join(failed)}")


@services.command()
@config_option
@click.option("--only", multiple=True, type=click.Choice(stack.SERVICE_NAMES), help="Stop only this service.")
def down(config: tuple[str, ...], only: tuple[str, ...]) -> None:
    """Stop the services started by `up`, by PID (SIGTERM, then SIGKILL after a grace period)."""
    settings = _settings(config)
    try:
        reports = stack.down(settings, only=only or None)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_table(("service", "pid", "result"), [(r.name, r.pid, r.detail) for r in reports]))


@services.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config: tuple[str, ...], as_json: bool) -> None:
    """Show each service's PID, address and a fresh health check; exit 1 if any is unhealthy."""
    settings = _settings(config)
    rows = stack.status(settings)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        table = [(r.name, r.pid, r.address, "yes" if r.healthy else "no", r.detail) for r in rows]
        click.echo(_table(("service", "pid", "address", "healthy", "detail"), table))
    if not all(r.healthy for r in rows):
        sys.exit(1)
