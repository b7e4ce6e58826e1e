"""Upkeep of ``plate_events`` and ``rejected_reads``: partitions ahead of time, retention.

All the work is done by the SQL function ``alpr_maintain()`` (migration 0002), so pg_cron,
``alpr db maintain`` and any other scheduler run the very same code. Idempotent.

On the TimescaleDB path ``maintain`` then runs the compression and continuous-aggregate policies
once in the foreground (``CALL run_job``), as their background jobs would: procedures cannot run
inside ``alpr_maintain()``, and where the background jobs fail (TimescaleDB 2.26.4 on PostgreSQL
15.20 here: every job ends with "cannot drop portal" and `alpr db status` shows it), a scheduled
``alpr db maintain`` keeps compression and the aggregate current.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import psycopg

from db.connect import connect

log = logging.getLogger(__name__)


class MaintenanceError(RuntimeError):
    """Upkeep could not run (database not migrated, invalid retention, SQL failure)."""


def maintain(url: str, *, retention_days: int | None = None, now: datetime | None = None) -> list[str]:
    """Run one upkeep pass on the database at ``url``; return one line per action taken.

    ``retention_days`` (when given) replaces the stored retention of plate reads. ``now``
    (tz-aware) stands in for the server clock on the native path, for tests and back-fills.
    """
    if retention_days is not None and retention_days < 1:
        raise ValueError(f"retention_days must be >= 1, got {retention_days}")
    if now is not None and now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    retention = timedelta(days=retention_days) if retention_days is not None else None
    with connect(url) as conn:
        conn.add_notice_handler(lambda diag: log.info("postgres: %s", diag.message_primary))
        try:
            rows = conn.execute(
                "SELECT alpr_maintain FROM alpr_maintain(%s::interval, coalesce(%s::timestamptz, now()))",
                (retention, now),
            ).fetchall()
        except psycopg.errors.UndefinedFunction as exc:
            raise MaintenanceError(
                f"database {conn.info.dbname} has no alpr_maintain(): run `alpr db migrate` first"
            ) from exc
        except psycopg.Error as exc:
            raise MaintenanceError(f"alpr_maintain() failed on {conn.info.dbname}: {exc}") from exc
        actions = [row[0] for row in rows]
        actions += _run_timescaledb_policies(conn)
    for action in actions:
        log.info("maintain: %s", action)
    return actions


def _run_timescaledb_policies(conn: psycopg.Connection) -> list[str]:
    """Run the compression and refresh jobs of this database once (TimescaleDB path only)."""
    path = conn.execute("SELECT path FROM storage_layout").fetchone()
    if not path or path[0] != "timescaledb":
        return []
    conn.commit()  # CALL run_job commits as it goes: it must not run inside a transaction block
    jobs = conn.execute(
        "SELECT job_id, proc_name FROM timescaledb_information.jobs"
        " WHERE proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate') ORDER BY job_id"
    ).fetchall()
    conn.commit()
    done = []
    previous = conn.autocommit
    conn.autocommit = True
    try:
        for job_id, proc in jobs:
            try:
                conn.execute("CALL run_job(%s)", (job_id,))
            except psycopg.Error as exc:
                raise MaintenanceError(f"timescaledb job {job_id} ({proc}) failed: {exc}") from exc
            done.append(f"ran timescaledb job {job_id} ({proc})")
    finally:
        conn.autocommit = previous
    return done
