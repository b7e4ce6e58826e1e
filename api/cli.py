"""`alpr api` (serve, keys, retention), `alpr watchlist`, `alpr events search` and `alpr erase`.

These commands talk to the database (and object storage) directly, as ``cli:<user>`` in the
audit trail; the HTTP API is for remote clients.
"""

from __future__ import annotations

import gc
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import psycopg

from api import audit, watchlists
from api.table import render
from config.load import ConfigError, load_settings
from config.settings import Settings
from db.connect import DatabaseUnavailableError, connect

_config_option = click.option(
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings YAML (repeatable; default $ALPR_CONFIG or config/default.yaml).",
)


def _settings(config_files: tuple[Path, ...]) -> Settings:
    try:
        return load_settings(*config_files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def actor() -> str:
    """Audit name of the person running the CLI."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextmanager
def _db(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    try:
        with connect(settings.database.url.get_secret_value(), autocommit=True) as conn:
            yield conn
    except DatabaseUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc


# --- alpr api -------------------------------------------------------------------------------


@click.group()
def api() -> None:
    """The query API: serve it, manage its keys, apply retention."""


@api.command()
@_config_option
@click.option("--host", default=None, help="Listen address (default api.host).")
@click.option("--port", type=int, default=None, help="Listen port (default api.port).")
def serve(config_files: tuple[Path, ...], host: str | None, port: int | None) -> None:
    """Serve the REST API (OpenAPI docs at /docs), metrics on metrics.api_port, retention on schedule.

    One process; to scale out, run several behind a load balancer, each with its own metrics port
    (rate limits and the key cache are per process).
    """
    import uvicorn

    from api.app import create_app
    from api.schedule import RetentionLoop
    from telemetry import logs
    from telemetry.metrics import build_info, serve

    settings = _settings(config_files)
    logs.configure(settings.log)
    if settings.metrics.enabled:
        build_info("api")
        serve(settings.metrics.host, settings.metrics.api_port)
    loop = RetentionLoop(settings).start()
    try:
        app = create_app(settings)
        freeze_heap()
        uvicorn.run(app, **uvicorn_options(settings, host=host, port=port))
    finally:
        loop.stop()


def freeze_heap() -> None:
    """Put what startup made (modules, the app and its models: ~100,000 objects) out of the cyclic
    garbage collector's reach (:func:`gc.freeze`), so that a full collection scans only what requests
    made. Measured under wrk: a full collection paused the event loop, and every request in flight,
    80-130 ms before, about 3 ms after (docs/deploy.md, "Serving the API"). bench/raw_sql_server.py
    does the same."""
    gc.collect()
    gc.freeze()


def uvicorn_options(settings: Settings, *, host: str | None = None, port: int | None = None) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` for the API (bench/raw_sql_server.py runs under the same)."""
    return {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        # log_config=None: uvicorn's records go through the process's handler (time, level, logger);
        # the access log is ours (api.access, without query strings).
        "log_config": None,
        "log_level": settings.log.level.lower(),
        "access_log": False,
        # Open live streams (the console) would hold a shutdown forever; they resume by themselves.
        "timeout_graceful_shutdown": 5,
    }


@api.group()
def keys() -> None:
    """API keys (stored hashed; the token is shown once)."""


@keys.command("create")
@_config_option
@click.argument("name")
@click.option("--role", type=click.Choice(["read", "admin"]), default="read", show_default=True)
def keys_create(config_files: tuple[Path, ...], name: str, role: str) -> None:
    """Create key NAME and print its token (store it now: it cannot be shown again)."""
    from api.keys import ApiKeyError, create_key

    with _db(_settings(config_files)) as conn, conn.transaction():
        try:
            key, token = create_key(conn, name, role)  # type: ignore[arg-type]
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        audit.record(conn, actor(), "key.create", {"name": name, "role": role})
    click.echo(token)
    click.echo(f"created {key.role} key {key.name!r}; the token above is not stored anywhere", err=True)


@keys.command("revoke")
@_config_option
@click.argument("name")
def keys_revoke(config_files: tuple[Path, ...], name: str) -> None:
    """Revoke key NAME (refused from now on)."""
    from api.keys import ApiKeyError, revoke_key

    with _db(_settings(config_files)) as conn, conn.transaction():
        try:
            revoke_key(conn, name)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        audit.record(conn, actor(), "key.revoke", {"name": name})
    click.echo(f"revoked {name}")


@keys.command("list")
@_config_option
def keys_list(config_files: tuple[Path, ...]) -> None:
    """Every key (never the tokens)."""
    from api.keys import list_keys

    with _db(_settings(config_files)) as conn:
        rows = [(k.id, k.name, k.role, k.created_at, k.revoked_at) for k in list_keys(conn)]
    click.echo(render(("id", "name", "role", "created", "revoked"), rows))


@api.command("retention")
@_config_option
def retention(config_files: tuple[Path, ...]) -> None:
    """Apply the retention policy (api.retention) once, now; for cron."""
    from api.privacy import apply_retention
    from api.storage import CropImages, StorageError

    settings = _settings(config_files)
    with _db(settings) as conn:
        try:
            report = apply_retention(
                conn,
                CropImages(settings.s3),
                settings.api.retention,
                reads_days=settings.database.reads_retention_days,
                now=datetime.now(UTC),
                actor=actor(),
                privacy=settings.api.privacy,
            )
        except StorageError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report.to_json(), indent=2))


# --- alpr watchlist ---------------------------------------------------------------------------


@click.group()
def watchlist() -> None:
    """Watchlists: list, add and remove entries, import CSV."""


def _list_id(conn: psycopg.Connection[Any], name: str, *, create: bool = False) -> int:
    row = watchlists.get(conn, name)
    if row is None:
        if not create:
            raise click.ClickException(f"no watchlist named {name!r}")
        row = watchlists.create(conn, name)
        audit.record(conn, actor(), "watchlist.create", {"watchlist_id": row.id, "name": name})
    return row.id


@watchlist.command("list")
@_config_option
@click.argument("name", required=False)
def watchlist_list(config_files: tuple[Path, ...], name: str | None) -> None:
    """All watchlists, or the entries of list NAME."""
    with _db(_settings(config_files)) as conn:
        if name is None:
            rows = [(w.id, w.name, w.severity, w.channels, w.entries, w.description) for w in watchlists.list_all(conn)]
            click.echo(render(("id", "name", "severity", "channels", "entries", "description"), rows))
            return
        entries = watchlists.entries(conn, _list_id(conn, name))
    cols = ("id", "pattern", "match_type", "max_distance", "severity", "note", "expires_at")
    click.echo(render(cols, [[e[c] for c in cols] for e in entries]))


@watchlist.command("add")
@_config_option
@click.argument("name")
@click.argument("pattern")
@click.option(
    "--match",
    "match_type",
    type=click.Choice(["exact", "regex", "fuzzy"]),
    default="exact",
    show_default=True,
)
@click.option("--max-distance", type=click.IntRange(0, 3), default=1, show_default=True)
@click.option("--severity", default=None, help="Overrides the list's severity.")
@click.option("--note", default=None, help="Shown with alerts (reason, case number).")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="Stop matching after this time (UTC when no zone).",
)
def watchlist_add(
    config_files: tuple[Path, ...],
    name: str,
    pattern: str,
    match_type: str,
    max_distance: int,
    severity: str | None,
    note: str | None,
    expires: datetime | None,
) -> None:
    """Add PATTERN to watchlist NAME (created when missing)."""
    from api.watchlist_csv import validate_entry

    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    settings = _settings(config_files)
    try:
        entry = validate_entry(pattern, match_type, max_distance, severity, note, expires, limits=settings.limits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PATTERN") from exc
    with _db(settings) as conn, conn.transaction():
        list_id = _list_id(conn, name, create=True)
        (entry_id,) = watchlists.add_entries(conn, list_id, [entry])
        audit.record(
            conn,
            actor(),
            "watchlist.entry.add",
            {"watchlist_id": list_id, "entry_id": entry_id, "pattern": entry.pattern},
        )
    click.echo(f"added entry {entry_id} ({entry.match_type} {entry.pattern}) to {name}")


@watchlist.command("remove")
@_config_option
@click.argument("name")
@click.argument("entry", metavar="ENTRY_ID_OR_PATTERN")
def watchlist_remove(config_files: tuple[Path, ...], name: str, entry: str) -> None:
    """Remove an entry of watchlist NAME, by id or by pattern (every entry with that pattern)."""
    from operators.normalise import compact

    with _db(_settings(config_files)) as conn, conn.transaction():
        list_id = _list_id(conn, name)
        ids = [
            e["id"]
            for e in watchlists.entries(conn, list_id)
            if str(e["id"]) == entry or e["pattern"] in (entry, compact(entry))
        ]
        if not ids:
            raise click.ClickException(f"watchlist {name!r} has no entry {entry!r}")
        for entry_id in ids:
            watchlists.remove(conn, list_id, entry_id)
            audit.record(conn, actor(), "watchlist.entry.remove", {"watchlist_id": list_id, "entry_id": entry_id})
    click.echo(f"removed {len(ids)} entr{'y' if len(ids) == 1 else 'ies'} from {name}")


@watchlist.command("import")
@_config_option
@click.argument("name")
@click.argument("csv_file", type=click.File("r", encoding="utf-8"))
@click.option("--replace", is_flag=True, help="Delete the list's entries first.")
def watchlist_import(config_files: tuple[Path, ...], name: str, csv_file: Any, replace: bool) -> None:
    """Import entries of CSV_FILE (columns: pattern, match_type, max_distance, severity, note, expires_at)."""
    from api.watchlist_csv import parse_csv

    settings = _settings(config_files)
    entries, errors = parse_csv(csv_file.read(), limits=settings.limits)
    if errors:
        for e in errors:
            click.echo(f"{csv_file.name}:{e.line}: {e.message}", err=True)
        raise click.ClickException(f"{len(errors)} error(s); nothing imported")
    with _db(settings) as conn, conn.transaction():
        list_id = _list_id(conn, name, create=True)
        ids = watchlists.add_entries(conn, list_id, entries, replace=replace)
        audit.record(
            conn,
            actor(),
            "watchlist.import",
            {"watchlist_id": list_id, "entries": len(ids), "replace": replace},
        )
    click.echo(f"imported {len(ids)} entries into {name}")


@watchlist.command("export")
@_config_option
@click.argument("name")
def watchlist_export(config_files: tuple[Path, ...], name: str) -> None:
    """Print the entries of watchlist NAME as CSV (the import format)."""
    from api.watchlist_csv import write_csv

    with _db(_settings(config_files)) as conn:
        click.echo(write_csv(watchlists.entry_inputs(conn, _list_id(conn, name))), nl=False)


# --- alpr events ------------------------------------------------------------------------------


@click.group()
def events() -> None:
    """Plate events."""


@events.command("search")
@_config_option
@click.argument("plate", required=False)
@click.option(
    "--match",
    type=click.Choice(["exact", "prefix", "fuzzy", "confusion"]),
    default="exact",
    show_default=True,
)
@click.option("--max-distance", type=click.IntRange(0, 3), default=1, show_default=True)
@click.option("--camera", "cameras", multiple=True, help="Camera id (repeatable).")
@click.option("--site", default=None)
@click.option("--since", type=click.DateTime(), default=None, help="first_seen >= this (UTC when no zone).")
@click.option("--until", type=click.DateTime(), default=None, help="first_seen < this (UTC when no zone).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def events_search(
    config_files: tuple[Path, ...],
    plate: str | None,
    match: str,
    max_distance: int,
    cameras: tuple[str, ...],
    site: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search plate events (newest first), e.g. `alpr events search AB12 --match prefix`."""
    from api.search import EventQuery, SearchError, run_search

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    try:
        query = EventQuery(
            plate=plate,
            match=match,
            max_distance=max_distance,  # type: ignore[arg-type]
            camera_ids=cameras,
            site=site,
            start=utc(since),
            end=utc(until),
            limit=limit,
        )
    except SearchError as exc:
        raise click.UsageError(str(exc)) from exc
    with _db(_settings(config_files)) as conn:
        page = run_search(conn, query, audit_as=actor())
    if as_json:
        for row in page.rows:
            click.echo(json.dumps(row, default=str))
        return
    cols = (
        "first_seen",
        "plate",
        "plate_raw",
        "confidence",
        "camera_id",
        "site",
        "sightings",
        "distance",
        "event_id",
    )
    click.echo(render(cols, [[r[c] for c in cols] for r in page.rows]))
    click.echo(
        f"{len(page.rows)} event(s)" + (" (more: raise --limit or narrow the search)" if page.next_cursor else ""),
        err=True,
    )


# --- alpr erase -------------------------------------------------------------------------------


@click.command()
@_config_option
@click.argument("plate")
@click.option("--reason", default="", help="Why (ticket, legal basis); kept in the erasure record.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(config_files: tuple[Path, ...], plate: str, reason: str, yes: bool) -> None:
    """Erase PLATE everywhere: its reads, crop images and alerts; the erasure is recorded."""
    from api.privacy import erase_plate
    from api.storage import CropImages, StorageError

    if not yes:
        click.confirm(f"Erase every read, image and alert of {plate}?", abort=True)
    settings = _settings(config_files)
    secret = settings.api.privacy.secret
    with _db(settings) as conn:
        try:
            report = erase_plate(
                conn,
                CropImages(settings.s3),
                plate,
                actor=actor(),
                reason=reason,
                secret=secret.get_secret_value().encode() if secret else None,
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="PLATE") from exc
        except StorageError as exc:
            raise click.ClickException(f"object storage failed, nothing erased: {exc}") from exc
    click.echo(
        render(
            ("events", "rejected_reads", "alerts", "objects", "audit_redacted", "digest"),
            [
                (
                    report.events,
                    report.rejected_reads,
                    report.alerts,
                    report.objects,
                    report.audit_redacted,
                    report.plate_digest,
                )
            ],
        )
    )
