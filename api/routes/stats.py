"""Per-camera statistics and hourly / daily counts (from the hourly_counts view)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime

from api import stats
from api.deps import reader
from api.keys import ApiKey
from api.models import CameraStats, CountBucket
from api.routes.common import Conn

router = APIRouter(prefix="/stats", tags=["stats"])
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
    return stats.camera_totals(conn, start=start, end=end, site=site)


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
    return stats.counts(conn, start=start, end=end, interval=interval, camera_id=camera_id, site=site)
