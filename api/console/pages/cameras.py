"""Cameras: last event, events per hour, up or down (from the edge's metrics in Prometheus)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from api import stats
from api.console.auth import viewer
from api.console.cameras import CameraHealth, PrometheusError, edge_health
from api.console.pages.common import Conn, router
from api.console.render import html
from api.console.sessions import Session
from api.deps import services

router = router()
HOURS = 24


def _bars(counts: list[int], width: int = 240, height: int = 36) -> list[dict[str, float]]:
    """SVG bars (x, y, w, h) of hourly counts, scaled to the busiest hour."""
    top = max(counts) or 1
    step = width / len(counts)
    return [
        {
            "x": round(i * step, 1),
            "w": round(step * 0.8, 1),
            "h": round(height * c / top, 1),
            "y": round(height - height * c / top, 1),
            "n": c,
        }
        for i, c in enumerate(counts)
    ]


@router.get("/cameras")
def cameras_page(request: Request, conn: Conn, session: Annotated[Session, Depends(viewer)]) -> Response:
    """One row per camera known from events (7 days) or from the edge's metrics."""
    settings = services(request).settings.api.console
    now = datetime.now(UTC)
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    totals = {(r["camera_id"]): r for r in stats.camera_totals(conn)}
    hourly: dict[str, list[int]] = {}
    for b in stats.counts(conn, start=hour0, interval="hour"):
        slot = int((b["bucket"] - hour0).total_seconds() // 3600)
        if 0 <= slot < HOURS:
            hourly.setdefault(b["camera_id"], [0] * HOURS)[slot] += b["events"]
    health: dict[str, CameraHealth] = {}
    problem = None
    if settings.prometheus_url:
        try:
            health = edge_health(settings.prometheus_url, settings.camera_stale_s, now=now)
        except PrometheusError as exc:
            problem = f"Prometheus did not answer ({exc}); up/down is unknown."
    else:
        problem = "No Prometheus configured (api.console.prometheus_url): up/down is unknown."
    rows: list[dict[str, Any]] = []
    for camera in sorted(set(totals) | set(health) | set(hourly)):
        t = totals.get(camera, {})
        counts = hourly.get(camera, [0] * HOURS)
        h = health.get(camera)
        rows.append(
            {
                "camera_id": camera,
                "site": t.get("site", ""),
                "last_event": t.get("last_seen"),
                "events_7d": t.get("events", 0),
                "last_hour": counts[-1],
                "per_hour": sum(counts) / HOURS,
                "bars": _bars(counts),
                "state": h.state if h else "unknown",
                "reported_at": h.reported_at if h else None,
                "detail": h.detail if h else "no metrics from an edge for this camera",
            }
        )
    return html(request, "cameras.html", session, rows=rows, problem=problem, hours=HOURS)
