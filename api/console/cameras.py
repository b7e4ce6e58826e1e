"""Is each camera up? Read from Prometheus, which already scrapes every edge node.

Every ``alpr edge`` exports ``alpr_edge_camera_up{camera=...}`` (1 while the camera streams, 0
while it reconnects) and Prometheus scrapes it: that *is* the edge's heartbeat, so the console
asks Prometheus (``api.console.prometheus_url``) instead of adding a topic, a schema and a table
for a second one. A camera is

- ``up``: its latest sample is 1 and younger than ``api.console.camera_stale_s``;
- ``down``: its latest sample is 0, or older than that (the edge stopped or cannot be scraped:
  Prometheus then marks the series stale and only the last day's history still knows it);
- ``unknown``: no Prometheus configured or reachable, or no sample of that camera.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

log = logging.getLogger(__name__)
State = Literal["up", "down", "unknown"]
_CURRENT = "max by (camera) (alpr_edge_camera_up)"
_LAST_SAMPLE = "max by (camera) (timestamp(alpr_edge_camera_up))"
_SEEN_TODAY = "max by (camera) (max_over_time(timestamp(alpr_edge_camera_up)[1d:1m]))"


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """What the edge last said about one camera."""

    camera_id: str
    state: State
    reported_at: datetime | None
    detail: str


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query."""


def _vector(client: httpx.Client, base: str, query: str) -> dict[str, float]:
    try:
        response = client.get(f"{base.rstrip('/')}/api/v1/query", params={"query": query})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusError(f"{base}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusError(f"{base}: {body.get('error', 'query failed')}")
    out: dict[str, float] = {}
    for item in body.get("data", {}).get("result", []):
        camera = item.get("metric", {}).get("camera")
        if camera is not None:
            out[str(camera)] = float(item["value"][1])
    return out


def edge_health(base_url: str, stale_s: float, *, now: datetime, timeout_s: float = 2.0) -> dict[str, CameraHealth]:
    """Health of every camera Prometheus heard of in the last day (raises :class:`PrometheusError`)."""
    with httpx.Client(timeout=timeout_s) as client:
        current = _vector(client, base_url, _CURRENT)
        sampled = _vector(client, base_url, _LAST_SAMPLE)
        seen = _vector(client, base_url, _SEEN_TODAY)
    out: dict[str, CameraHealth] = {}
    for camera in set(current) | set(seen):
        last = sampled.get(camera, seen.get(camera))
        at = datetime.fromtimestamp(last, UTC) if last is not None else None
        age = (now - at).total_seconds() if at else None
        if camera not in current or age is None or age > stale_s:
            out[camera] = CameraHealth(camera, "down", at, "the edge has not reported this camera lately")
        elif current[camera] >= 1:
            out[camera] = CameraHealth(camera, "up", at, "streaming")
        else:
            out[camera] = CameraHealth(camera, "down", at, "the edge is reconnecting to the camera")
    return out
