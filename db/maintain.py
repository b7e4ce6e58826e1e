"""Upkeep of ``plate_events`` and ``rejected_reads``: partitions ahead of time, retention.

All the work is done by the SQL function ``alpr_maintain()`` (migration 0002), so pg_cron,
``alpr db maintain`` and any other scheduler run the very same code. Idempotent.
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
    for action in actions:
        log.info("maintain: %s", action)
    return actions
