"""Apply the versioned SQL migrations in ``db/migrations/`` (``NNNN_name.sql``).

``migrate(url)`` creates the database when missing, serialises concurrent migrators with an
advisory lock, refuses to run when an applied file changed (checksum) or when the database
was migrated by newer code, and applies each pending file in its own transaction, recording
it in ``schema_migrations``. Which storage path ``plate_events`` gets (TimescaleDB, pg_partman
or native partitions) is decided inside migration 0002 from what the server offers; the
caller passes only the preference and the retention as session settings.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import errors, sql

from db.connect import DatabaseUnavailableError, connect, database_name, with_database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
StoragePreference = Literal["auto", "timescaledb", "partman", "native"]
STORAGE_PREFERENCES: tuple[str, ...] = ("auto", "timescaledb", "partman", "native")

# Session-level advisory lock held while migrating (any constant; "alpr" + 1).
MIGRATION_LOCK_KEY = 0x616C_7072_0001
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """Migrations cannot be applied: changed or unknown history, or a failing migration."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        """``NNNN_name.sql``."""
        return f"{self.version:04d}_{self.name}.sql"

    @classmethod
    def from_path(cls, path: Path) -> Migration:
        """Read ``path``; its name must be ``NNNN_name.sql``."""
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named NNNN_lower_snake.sql")
        data = path.read_bytes()
        return cls(
            version=int(match["version"]),
            name=match["name"],
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    applied_at: datetime


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every ``*.sql`` file of ``directory``, by version; versions must be unique."""
    migrations = sorted((Migration.from_path(p) for p in directory.glob("*.sql")), key=lambda m: m.version)
    for before, after in zip(migrations, migrations[1:], strict=False):
        if before.version == after.version:
            raise MigrationError(f"{directory}: {before.filename} and {after.filename} share a version")
    return migrations


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names when it does not exist (via the server's ``postgres`` DB).

    Returns True when this call created it. Safe against concurrent callers.
    """
    try:
        connect(url).close()
        return False
    except DatabaseUnavailableError as direct_failure:
        name = database_name(url)
        with connect(with_database(url, "postgres"), autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                raise direct_failure  # it exists: the problem is elsewhere (rights, limits)
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                return False  # a concurrent migrator won the race
        log.info("created database %s", name)
        return True


def applied_migrations(conn: psycopg.Connection) -> list[AppliedMigration]:
    """Rows of ``schema_migrations`` by version; empty when the table does not exist yet."""
    if not _has_history_table(conn):
        return []
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").fetchall()
    return [AppliedMigration(*row) for row in rows]


def check_history(applied: Sequence[AppliedMigration], migrations: Sequence[Migration]) -> None:
    """Raise :class:`MigrationError` when an applied migration changed or is unknown to this code."""
    by_version = {m.version: m for m in migrations}
    for row in applied:
        known = by_version.get(row.version)
        if known is None:
            raise MigrationError(
                f"the database has migration {row.version:04d}_{row.name} that this code does not have "
                "(migrated by a newer version?); refusing to run"
            )
        if known.checksum != row.checksum:
            raise MigrationError(
                f"migration {known.filename} changed after it was applied (recorded checksum "
                f"{row.checksum[:12]}, file {known.checksum[:12]}); restore the file and put the "
                "change in a new migration"
            )


def migrate(
    url: str,
    *,
    retention_days: int = 90,
    storage: StoragePreference = "auto",
    migrations: Sequence[Migration] | None = None,
) -> list[AppliedMigration]:
    """Bring the database at ``url`` up to date; return the migrations applied by this call.

    ``storage`` forces a storage path for ``plate_events`` (``auto`` picks the best the server
    offers); ``retention_days`` is the initial retention of plate reads. Both only matter when
    migration 0002 runs (later changes of retention: :func:`db.maintain.maintain`).
    """
    if storage not in STORAGE_PREFERENCES:
        raise ValueError(f"storage must be one of {', '.join(STORAGE_PREFERENCES)}, got {storage!r}")
    if retention_days < 1:
        raise ValueError(f"retention_days must be >= 1, got {retention_days}")
    todo = list(load_migrations() if migrations is None else migrations)
    ensure_database(url)
    with connect(url, autocommit=True) as conn:
        conn.add_notice_handler(_log_notice)
        _lock(conn)
        try:
            return _apply_pending(conn, todo, retention_days, _usable_storage(conn, storage))
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _usable_storage(conn: psycopg.Connection, storage: str) -> str:
    """``storage``, with TimescaleDB ruled out where the server has it but does not preload it.

    Migration 0002 tries ``CREATE EXTENSION timescaledb`` when the server lists it as available;
    without ``shared_preload_libraries=timescaledb`` that ends the session with a FATAL error
    (which no exception handler catches). So ``auto`` becomes pg_partman or native there, and an
    explicit ``timescaledb`` is refused with what to do.
    """
    if storage not in ("auto", "timescaledb"):
        return storage
    available, created, preloads, partman = conn.execute(
        """
        SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
               current_setting('shared_preload_libraries'),
               EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman')
        """
    ).fetchone() or (False, False, "", False)
    preloaded = "timescaledb" in (lib.strip() for lib in preloads.split(","))
    if not available or created or preloaded:
        return storage
    if storage == "timescaledb":
        raise MigrationError(
            "storage timescaledb: the server has the extension but shared_preload_libraries does not "
            f"load it ({preloads or 'empty'}); add timescaledb there and restart the server, or use "
            "--storage partman|native"
        )
    log.info("timescaledb is on the server but not preloaded: plate_events takes the plain path")
    return "partman" if partman else "native"


def _lock(conn: psycopg.Connection) -> None:
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK_KEY,)).fetchone()
    if not (got and got[0]):
        log.info("another migrator holds the lock; waiting")
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))


def _apply_pending(
    conn: psycopg.Connection, todo: list[Migration], retention_days: int, storage: str
) -> list[AppliedMigration]:
    if not _has_history_table(conn):
        _create_history_table(conn)
    history = applied_migrations(conn)
    check_history(history, todo)
    done = {row.version for row in history}
    conn.execute(
        "SELECT set_config('alpr.storage', %s, false), set_config('alpr.reads_retention_days', %s, false)",
        (storage, str(retention_days)),
    )
    applied: list[AppliedMigration] = []
    for migration in todo:
        if migration.version in done:
            continue
        log.info("applying %s", migration.filename)
        try:
            with conn.transaction():
                conn.execute(migration.sql)  # no parameters: simple protocol, many statements
                row = conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
                    " RETURNING version, name, checksum, applied_at",
                    (migration.version, migration.name, migration.checksum),
                ).fetchone()
        except psycopg.Error as exc:
            where = f" ({exc.diag.context.strip()})" if exc.diag.context else ""
            raise MigrationError(f"migration {migration.filename} failed: {exc}{where}".strip()) from exc
        assert row is not None  # RETURNING always yields the inserted row
        applied.append(AppliedMigration(*row))
    if applied:
        log.info("applied %d migration(s) to database %s", len(applied), conn.info.dbname)
    return applied


def _has_history_table(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _create_history_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE schema_migrations (
            version    int PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE schema_migrations
            IS 'Migrations of db/migrations applied to this database (alpr db migrate).';
        """
    )


def _log_notice(diag: psycopg.errors.Diagnostic) -> None:
    log.info("postgres: %s", diag.message_primary)
