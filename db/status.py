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
class Job:
    """A TimescaleDB background job (policy) of this database, with its last run."""

    job_id: int
    kind: str
    relation: str
    schedule_interval: timedelta
    last_status: str | None
    last_run: datetime | None
    next_start: datetime | None
    total_failures: int


@dataclass(frozen=True)
class TimescaleStatus:
    """plate_events as a hypertable: chunks, compression, size and the policy jobs."""

    version: str
    chunks: int
    compressed_chunks: int
    size_bytes: int
    before_compression_bytes: int | None
    after_compression_bytes: int | None
    jobs: tuple[Job, ...]

    @property
    def compression_ratio(self) -> float | None:
        """Bytes before / after compression of the compressed chunks; None when none is."""
        if not self.before_compression_bytes or not self.after_compression_bytes:
            return None
        return self.before_compression_bytes / self.after_compression_bytes


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
    timescale: TimescaleStatus | None = None


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


def read_timescale(conn: psycopg.Connection) -> TimescaleStatus:
    """Chunks, compression and jobs of the plate_events hypertable (TimescaleDB path only)."""
    version, chunks, compressed, size = conn.execute(
        """
        SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
               (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'plate_events'),
               (SELECT count(*) FROM timescaledb_information.chunks
                 WHERE hypertable_name = 'plate_events' AND is_compressed),
               hypertable_size('plate_events')
        """
    ).fetchone() or ("?", 0, 0, 0)
    before, after = conn.execute(
        "SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes)"
        " FROM hypertable_compression_stats('plate_events')"
    ).fetchone() or (None, None)
    jobs = conn.execute(
        """
        SELECT j.job_id, j.proc_name, coalesce(j.hypertable_name, ''), j.schedule_interval,
               s.last_run_status, s.last_run_started_at, s.next_start, coalesce(s.total_failures, 0)
          FROM timescaledb_information.jobs j
          LEFT JOIN timescaledb_information.job_stats s USING (job_id)
         WHERE j.proc_schema = '_timescaledb_functions'
           AND j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
         ORDER BY j.job_id
        """
    ).fetchall()
    return TimescaleStatus(
        version=version,
        chunks=chunks,
        compressed_chunks=compressed,
        size_bytes=size or 0,
        before_compression_bytes=int(before) if before is not None else None,
        after_compression_bytes=int(after) if after is not None else None,
        jobs=tuple(Job(*row) for row in jobs),
    )


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
                counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(default_rel))).fetchone()
                default_rows = counted[0] if counted else None
        return DatabaseStatus(
            database=conn.info.dbname,
            applied=applied,
            pending=[m for m in known if m.version not in done],
            capabilities=read_capabilities(conn),
            layout=layout,
            partitions=partitions,
            default_rows=default_rows,
            timescale=read_timescale(conn) if layout is not None and layout.path == "timescaledb" else None,
        )
