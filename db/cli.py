"""``alpr db``: apply migrations, report status, run partition and retention upkeep."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from config.load import ConfigError, load_settings
from config.settings import Settings

if TYPE_CHECKING:
    from db.status import DatabaseStatus

_config_option = click.option(
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings YAML (repeatable; default $ALPR_CONFIG or config/default.yaml).",
)
_url_option = click.option("--url", default=None, help="libpq URL; overrides database.url of the settings.")


def _settings(config_files: tuple[Path, ...]) -> Settings:
    try:
        return load_settings(*config_files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _url(settings: Settings, url: str | None) -> str:
    return url or settings.database.url.get_secret_value()


@click.group()
def db() -> None:
    """PostgreSQL schema: migrations, status and upkeep."""


@db.command()
@_config_option
@_url_option
@click.option(
    "--storage",
    type=click.Choice(["auto", "timescaledb", "partman", "native"]),
    default="auto",
    show_default=True,
    help="Storage path of plate_events (only when it is first created); auto = best available.",
)
def migrate(config_files: tuple[Path, ...], url: str | None, storage: str) -> None:
    """Create the database if missing and apply pending migrations."""
    from db.connect import DatabaseUnavailableError
    from db.migrate import MigrationError
    from db.migrate import migrate as run_migrations
    from db.status import read_status

    settings = _settings(config_files)
    target = _url(settings, url)
    try:
        applied = run_migrations(
            target,
            retention_days=settings.database.reads_retention_days,
            storage=storage,  # type: ignore[arg-type]  # click.Choice checked it
        )
        current = read_status(target)
    except (MigrationError, DatabaseUnavailableError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for row in applied:
        click.echo(f"applied {row.version:04d}_{row.name}")
    if not applied:
        click.echo(f"database {current.database} is up to date")
    _echo_layout(current)


@db.command()
@_config_option
@_url_option
def status(config_files: tuple[Path, ...], url: str | None) -> None:
    """Applied and pending migrations, server capabilities and the storage path taken."""
    from db.connect import DatabaseUnavailableError
    from db.status import read_status

    target = _url(_settings(config_files), url)
    try:
        current = read_status(target)
    except DatabaseUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database: {current.database}")
    for row in current.applied:
        click.echo(f"  applied  {row.version:04d}_{row.name}  {row.applied_at:%Y-%m-%d %H:%M:%S%z}")
    for migration in current.pending:
        click.echo(f"  pending  {migration.filename}")
    caps = current.capabilities
    click.echo("capabilities:")
    for ext in caps.extensions.values():
        state = (
            f"installed {ext.installed_version}"
            if ext.installed
            else (f"available {ext.available_version}" if ext.available else "not on server")
        )
        click.echo(f"  {ext.name:<12} {state}")
    click.echo(f"  timescaledb usable: {_yes(caps.timescaledb)}   pg_partman usable: {_yes(caps.partman)}")
    click.echo(
        f"  pg_cron usable: {_yes(caps.cron)} (shared_preload_libraries="
        f"{','.join(caps.shared_preload_libraries) or '-'}, cron.database_name={caps.cron_database or '-'})"
    )
    click.echo("  native partitioning: yes")
    _echo_layout(current)
    if current.pending:
        raise SystemExit(2)


@db.command()
@_config_option
@_url_option
@click.option(
    "--retention-days",
    type=click.IntRange(min=1),
    default=None,
    help="Override database.reads_retention_days of the settings.",
)
def maintain(config_files: tuple[Path, ...], url: str | None, retention_days: int | None) -> None:
    """Partition and retention upkeep (create partitions ahead, drop expired reads); idempotent."""
    from db.connect import DatabaseUnavailableError
    from db.maintain import MaintenanceError
    from db.maintain import maintain as run_maintenance

    settings = _settings(config_files)
    try:
        actions = run_maintenance(
            _url(settings, url), retention_days=retention_days or settings.database.reads_retention_days
        )
    except (MaintenanceError, DatabaseUnavailableError) as exc:
        raise click.ClickException(str(exc)) from exc
    for action in actions:
        click.echo(action)
    if not actions:
        click.echo("nothing to do")


def _echo_layout(current: DatabaseStatus) -> None:
    layout = current.layout
    if layout is None:
        click.echo("storage: plate_events not created yet (run `alpr db migrate`)")
        return
    click.echo(
        f"storage: {layout.path} (partition {_span(layout.partition_interval)}, premake {layout.premake}, "
        f"retention {layout.retention.days} days, upkeep by {layout.scheduler})"
    )
    extra = f", {current.default_rows} rows in default partition" if current.default_rows is not None else ""
    click.echo(f"  plate_events partitions/chunks: {current.partitions}{extra}")
    if layout.scheduler == "external":
        click.echo("  no in-database scheduler: run `alpr db maintain` at least daily")
    ts = current.timescale
    if ts is not None:
        ratio = f"{ts.compression_ratio:.1f}x" if ts.compression_ratio is not None else "-"
        click.echo(
            f"  timescaledb {ts.version}: {ts.chunks} chunks, {ts.compressed_chunks} compressed"
            f" (ratio {ratio}), {ts.size_bytes / 2**20:.1f} MiB"
        )
        for job in ts.jobs:
            last = f"{job.last_status or 'not run yet'}" + (
                f" at {job.last_run:%Y-%m-%d %H:%M:%S%z}" if job.last_run and job.last_status else ""
            )
            upcoming = f", next {job.next_start:%Y-%m-%d %H:%M:%S%z}" if job.next_start else ""
            click.echo(
                f"  job {job.job_id} {job.kind} on {job.relation} every {job.schedule_interval}: {last}"
                f"{upcoming}, {job.total_failures} failures"
            )


def _span(value: timedelta) -> str:
    if value.seconds == 0 and value.microseconds == 0:
        return f"{value.days} day" + ("s" if value.days != 1 else "")
    return str(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
