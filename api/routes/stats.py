"""Per-camera statistics and hourly / daily counts (from the hourly_counts view)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime

from api.deps import connection, reader
from api.keys import ApiKey
from api.models import CameraStats, CountBucket

router = APIRouter(prefix="/stats", tags=["stats"])
Conn = Annotated[psycopg.Connection[Any], Depends(connection)]
Start = Annotated[AwareDatetime | None, Query(description="From (default: 7 days ago, server time).")]
End = Annotated[AwareDatetime | None, Query(description="Until, exclusive (default: now).")]


def _check(start: Any, end: Any) -> None:
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, "start must be before end")


@router.get("/cameras", response_model=list[CameraStats], summary="Events per camera in a time range")
def camera_stats(
    conn: Conn,
    key: Annotated[ApiKey, Depends(reader)],
    start: Start = None,
    end: End = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Events, sightings, mean confidence, first and last event of each camera."""
    _check(start, end)
    cur = conn.execute(
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
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@router.get("/counts", response_model=list[CountBucket], summary="Hourly or daily event counts per camera")
def counts(
    conn: Conn,
    key: Annotated[ApiKey, Depends(reader)],
    start: Start = None,
    end: End = None,
    interval: Annotated[Literal["hour", "day"], Query(description="Bucket size (UTC).")] = "hour",
    camera_id: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Events and sightings per camera per UTC hour or day, oldest first."""
    _check(start, end)
    cur = conn.execute(
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
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
