"""What a database looks like: migrations applied and pending, server capabilities, storage path.

Read-only; never creates the database or an extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from db.connect import connect
from db.migrate import AppliedMigration, Migration, applied_migrations, load_migrations

# Extensions the migrations use or can use.
EXTENSIONS = ("timescaledb", "pg_partman", "pg_cron", "pg_trgm")


@dataclass(frozen=True)
class Extension:
    """An extension as the server offers it and as this database has it."""

    name: str
    available_version: str | None
    installed_version: str | None

    @property
    def available(self) -> bool:
        """The server has the extension's files."""
        return self.available_version is not None

    @property
    def installed(self) -> bool:
        """``CREATE EXTENSION`` was run in this database."""
        return self.installed_version is not None


@dataclass(frozen=True)
class Capabilities:
    """Which storage paths the server and this database support."""

    extensions: dict[str, Extension]
    shared_preload_libraries: tuple[str, ...]
    cron_database: str | None
    database: str

    @property
    def timescaledb(self) -> bool:
        """TimescaleDB can be used (needs shared_preload_libraries)."""
        return self.extensions["timescaledb"].installed or (
            self.extensions["timescaledb"].available and "timescaledb" in self.shared_preload_libraries
        )

    @property
    def partman(self) -> bool:
        """pg_partman can be used (no preload needed)."""
        return self.extensions["pg_partman"].available

    @property
    def cron(self) -> bool:
        """pg_cron can schedule jobs in this database (preloaded, and this is cron.database_name)."""
        return self.extensions["pg_cron"].installed or (
            self.extensions["pg_cron"].available
            and "pg_cron" in self.shared_preload_libraries
            and self.cron_database == self.database
        )


@dataclass(frozen=True)
class StorageLayout:
    """The row of ``storage_layout``: the path migration 0002 chose."""

    path: str
    scheduler: str
    partition_interval: timedelta
    premake: int
    retention: timedelta
    chosen_at: datetime


@dataclass(frozen=True)
class DatabaseStatus:
    """Everything ``alpr db status`` reports."""

    database: str
    applied: list[AppliedMigration]
    pending: list[Migration]
    capabilities: Capabilities
    layout: StorageLayout | None
    partitions: int
    default_rows: int | None


def read_capabilities(conn: psycopg.Connection) -> Capabilities:
    """Extensions available on the server / installed here, and the pg_cron preconditions."""
    rows = conn.execute(
        """
        SELECT a.name, a.default_version, a.installed_version
          FROM pg_available_extensions a WHERE a.name = ANY(%s)
        """,
        (list(EXTENSIONS),),
    ).fetchall()
    found = {name: Extension(name, default, installed) for name, default, installed in rows}
    extensions = {name: found.get(name, Extension(name, None, None)) for name in EXTENSIONS}
    preload, cron_db, database = conn.execute(
        "SELECT current_setting('shared_preload_libraries'), current_setting('cron.database_name', true),"
        " current_database()"
    ).fetchone() or ("", None, "")
    libraries = tuple(lib.strip() for lib in preload.split(",") if lib.strip())
    return Capabilities(extensions, libraries, cron_db or None, database)


def read_layout(conn: psycopg.Connection) -> StorageLayout | None:
    """The chosen storage path, or None before migration 0002."""
    row = conn.execute("SELECT to_regclass('storage_layout') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return None
    found = conn.execute(
        "SELECT path, scheduler, partition_interval, premake, retention, chosen_at FROM storage_layout"
    ).fetchone()
    return StorageLayout(*found) if found else None


def read_status(url: str, migrations: Sequence[Migration] | None = None) -> DatabaseStatus:
    """Status of the (existing) database at ``url``."""
    known = list(load_migrations() if migrations is None else migrations)
    with connect(url, autocommit=True) as conn:
        applied = applied_migrations(conn)
        done = {row.version for row in applied}
        layout = read_layout(conn)
        partitions = 0
        default_rows = None
        if layout is not None:
            partitions, default_rel = conn.execute(
                """
                SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'plate_events'::regclass),
                       (SELECT nullif(partdefid, 0)::regclass::text FROM pg_partitioned_table
                         WHERE partrelid = 'plate_events'::regclass)
                """
            ).fetchone() or (0, None)
            if default_rel:
                # The name comes from the catalog, already quoted by regclass output.
                counted = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(default_rel))
                ).fetchone()
                default_rows = counted[0] if counted else None
        return DatabaseStatus(
            database=conn.info.dbname,
            applied=applied,
            pending=[m for m in known if m.version not in done],
            capabilities=read_capabilities(conn),
            layout=layout,
            partitions=partitions,
            default_rows=default_rows,
        )
