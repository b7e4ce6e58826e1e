"""Prometheus metrics of the edge node, registered on one registry per process (a fresh one in tests).

The registry also carries the process collectors (``process_*``, ``python_gc_*``) and
``alpr_build_info{service="edge"}``. Every per-camera and per-topic series exists from the start
(at 0), so dashboards and alert rules see a camera before its first reconnect or error.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from telemetry.metrics import add_process_collectors, build_info

__all__ = ["EdgeMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)


class EdgeMetrics:
    """Counters, gauges and histograms of ``alpr edge`` (labels: camera, stage, topic)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames_read = Counter("alpr_edge_frames_read", "Frames decoded per camera.", ["camera"], registry=r)
        self.frames_dropped = Counter(
            "alpr_edge_frames_dropped", "Frames skipped by the newest-frame policy.", ["camera"], registry=r
        )
        self.frames_bad = Counter("alpr_edge_frames_bad", "Unreadable or corrupt frames.", ["camera"], registry=r)
        self.frames_processed = Counter(
            "alpr_edge_frames_processed", "Frames through detection and tracking.", ["camera"], registry=r
        )
        self.latency = Histogram(
            "alpr_edge_stage_duration_seconds",
            "Per-frame latency of a stage.",
            ["camera", "stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.camera_up = Gauge("alpr_edge_camera_up", "1 while the camera streams.", ["camera"], registry=r)
        self.reconnects = Counter("alpr_edge_camera_reconnects", "Reconnect attempts.", ["camera"], registry=r)
        self.tracks_active = Gauge("alpr_edge_tracks_active", "Open plate tracks.", ["camera"], registry=r)
        self.tracks_started = Counter("alpr_edge_tracks_started", "Plate tracks started.", ["camera"], registry=r)
        self.crops_published = Counter(
            "alpr_edge_crops_published", "Crops queued for publishing.", ["camera"], registry=r
        )
        self.delivered = Counter("alpr_edge_messages_delivered", "Messages acked by the broker.", ["topic"], registry=r)
        self.publish_errors = Counter(
            "alpr_edge_publish_errors", "Failed deliveries and encoding errors.", ["topic"], registry=r
        )
        self.spool_dropped = Counter(
            "alpr_edge_spool_dropped", "Messages dropped because the spool was full.", ["topic"], registry=r
        )
        self.spool_depth = Gauge("alpr_edge_spool_messages", "Messages waiting in the spool.", registry=r)
        self.spool_bytes = Gauge("alpr_edge_spool_bytes", "Bytes waiting in the spool.", registry=r)
        self.spool_limit = Gauge("alpr_edge_spool_limit_bytes", "Spool size limit (edge.spool.max_bytes).", registry=r)
        self.pipeline_errors = Counter(
            "alpr_edge_pipeline_errors", "Frames whose processing raised an error.", ["camera"], registry=r
        )
        self.plate_looks = Counter(
            "alpr_edge_plate_looks",
            "Vehicles with no plate box looked in again for one (edge.vehicles.plate_look): plates added, empty looks.",
            ["camera", "result"],
            registry=r,
        )
        if registry is None:  # a registry of its own: the process's figures go on it too
            add_process_collectors(r)
            build_info("edge", r)

    def init_camera(self, camera: str) -> None:
        """Create every series of ``camera`` at 0 (down, no frames, no reconnects yet)."""
        self.camera_up.labels(camera).set(0)
        self.tracks_active.labels(camera).set(0)
        for counter in (
            self.frames_read,
            self.frames_dropped,
            self.frames_bad,
            self.frames_processed,
            self.reconnects,
            self.tracks_started,
            self.crops_published,
            self.pipeline_errors,
        ):
            counter.labels(camera)
        for result in ("found", "empty"):
            self.plate_looks.labels(camera, result)

    def init_topics(self, topics: Iterable[str]) -> None:
        """Create the per-topic series of the publisher at 0."""
        for topic in topics:
            for counter in (self.delivered, self.publish_errors, self.spool_dropped):
                counter.labels(topic)
