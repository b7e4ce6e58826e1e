"""Per-camera totals and hourly / daily counts (from the hourly_counts view)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg


def _rows(cur: psycopg.Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def camera_totals(
    conn: psycopg.Connection[Any],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Events, sightings, mean confidence, first and last event of each camera (default: last 7 days)."""
    return _rows(
        conn.execute(
            """SELECT camera_id, site, count(*)::int AS events, coalesce(sum(sightings), 0)::int AS sightings,
                      avg(confidence)::float8 AS avg_confidence, min(first_seen) AS first_seen,
                      max(first_seen) AS last_seen
               FROM plate_events
               WHERE first_seen >= coalesce(%(start)s::timestamptz, now() - interval '7 days')
                 AND first_seen < coalesce(%(end)s::timestamptz, now() + interval '1 day')
                 AND (%(site)s::text IS NULL OR site = %(site)s::text)
               GROUP BY camera_id, site ORDER BY site, camera_id""",
            {"start": start, "end": end, "site": site},
        )
    )


def counts(
    conn: psycopg.Connection[Any],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    interval: Literal["hour", "day"] = "hour",
    camera_id: str | None = None,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Events and sightings per camera per UTC hour or day, oldest first (default: last 7 days)."""
    return _rows(
        conn.execute(
            """SELECT date_trunc(%(interval)s, hour, 'UTC') AS bucket, site, camera_id,
                      sum(events)::int AS events, coalesce(sum(sightings), 0)::int AS sightings
               FROM hourly_counts
               WHERE hour >= coalesce(%(start)s::timestamptz, now() - interval '7 days')
                 AND hour < coalesce(%(end)s::timestamptz, now() + interval '1 day')
                 AND (%(camera)s::text IS NULL OR camera_id = %(camera)s::text)
                 AND (%(site)s::text IS NULL OR site = %(site)s::text)
               GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT 10000""",
            {"interval": interval, "start": start, "end": end, "camera": camera_id, "site": site},
        )
    )
