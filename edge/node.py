"""The edge node: one reader and one worker thread per camera, one shared detector and publisher.

A worker takes the newest frame from its camera's slot, runs the :class:`CameraPipeline` and
queues the resulting records on the :class:`Publisher`. A frame that fails (corrupt image,
detector error) is counted and skipped; a camera that dies is reconnected by its reader; neither
affects the other cameras. :meth:`EdgeNode.stop` (SIGINT/SIGTERM) ends every open track, flushes
the publisher and returns.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from config.edge import CameraSettings
from config.settings import Settings
from edge.batching import BatchingDetector
from edge.camera import CameraReader, CameraStatus
from edge.classify import load_classifier
from edge.detect import Detector, load_detector
from edge.metrics import EdgeMetrics
from edge.pipeline import CameraPipeline, Record
from edge.publish import Publisher
from edge.records import PlateCrop

log = logging.getLogger(__name__)

__all__ = ["CameraView", "EdgeNode"]


@dataclass(frozen=True, slots=True)
class CameraView:
    """One camera's figures for the status line."""

    camera_id: str
    status: str
    fps: float
    frames: int
    dropped: int
    bad: int
    tracks: int
    published: int

    def line(self) -> str:
        """``cam status fps=.. frames=.. drops=.. tracks=.. published=..``."""
        return (
            f"{self.camera_id} {self.status} fps={self.fps:.1f} frames={self.frames} drops={self.dropped} "
            f"bad={self.bad} tracks={self.tracks} published={self.published}"
        )


class _Camera:
    """Reader + pipeline + worker thread + counters of one camera."""

    def __init__(self, node: EdgeNode, cam: CameraSettings) -> None:
        m = node.metrics
        m.init_camera(cam.id)
        self.settings = cam
        self.frames = self.dropped = self.bad = self.published = 0
        self._fps_mark = (time.monotonic(), 0)
        self.fps = 0.0
        self.pipeline = CameraPipeline(
            cam,
            node.settings.edge,
            site=node.settings.site,
            run_id=node.run_id,
            detector=node.detector,
            vehicle_detector=node.vehicle_detector,
            classifier=node.classifier,
            metrics=m,
            clock=node.clock,
        )
        read_latency = m.latency.labels(cam.id, "decode")
        frames_read, frames_dropped, frames_bad = (
            m.frames_read.labels(cam.id),
            m.frames_dropped.labels(cam.id),
            m.frames_bad.labels(cam.id),
        )

        def on_read(seconds: float) -> None:
            read_latency.observe(seconds)
            frames_read.inc()

        def on_drop() -> None:
            self.dropped += 1
            frames_dropped.inc()

        def on_bad() -> None:
            self.bad += 1
            frames_bad.inc()

        def on_status(camera_id: str, status: CameraStatus, detail: str) -> None:
            m.camera_up.labels(camera_id).set(1 if status == CameraStatus.STREAMING else 0)
            if status == CameraStatus.RECONNECTING:
                m.reconnects.labels(camera_id).inc()

        self.reader = CameraReader(
            cam, on_status=on_status, on_read=on_read, on_drop=on_drop, on_bad_frame=on_bad, clock=node.clock
        )
        self.worker = threading.Thread(target=node._work, args=(self,), name=f"worker-{cam.id}", daemon=True)

    def view(self) -> CameraView:
        now = time.monotonic()
        t, n = self._fps_mark
        if now - t >= 1.0:
            self.fps = (self.frames - n) / (now - t)
            self._fps_mark = (now, self.frames)
        return CameraView(
            self.settings.id,
            str(self.reader.status),
            self.fps,
            self.frames,
            self.dropped,
            self.bad,
            self.pipeline.open_tracks,
            self.published,
        )


class EdgeNode:
    """Runs every camera of ``settings.edge`` until they end (files) or :meth:`stop` is called."""

    def __init__(
        self,
        settings: Settings,
        *,
        detector: Detector | None = None,
        vehicle_detector: Detector | None = None,
        metrics: EdgeMetrics | None = None,
        clock: Callable[[], float] = time.time,
        publisher: Publisher | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = uuid.uuid4().hex[:8]
        self.clock = clock
        self.metrics = metrics or EdgeMetrics()
        self.detector = detector or load_detector(settings.edge.detector)
        det = settings.edge.detector
        self._batcher: BatchingDetector | None = None
        if det.batch_max > 1 and hasattr(self.detector, "detect_batch"):
            # One inference call for the frames of several cameras (see edge/batching.py).
            self._batcher = BatchingDetector(self.detector, det.batch_max, det.batch_wait_ms / 1000)
            self.detector = self._batcher
        vehicles = settings.edge.vehicles
        self.vehicle_detector = (vehicle_detector or load_detector(vehicles.detector)) if vehicles.enabled else None
        self.classifier = load_classifier(vehicles)
        m = self.metrics
        self.publisher = publisher or Publisher(
            settings,
            on_delivered=lambda t: m.delivered.labels(t).inc(),
            on_error=lambda t: m.publish_errors.labels(t).inc(),
            on_dropped=lambda t: m.spool_dropped.labels(t).inc(),
        )
        m.init_topics((settings.kafka.topics.crops, settings.kafka.topics.detections))
        m.spool_limit.set(settings.edge.spool.max_bytes)
        self._stop = threading.Event()
        self._cameras = [_Camera(self, cam) for cam in settings.edge.cameras]

    def start(self) -> None:
        """Start the publisher, then every camera's reader and worker."""
        self.publisher.start()
        for cam in self._cameras:
            cam.reader.start()
            cam.worker.start()

    def stop(self) -> None:
        """Ask every camera to stop (safe from a signal handler)."""
        self._stop.set()
        for cam in self._cameras:
            cam.reader.stop()

    def wait(self, status: Callable[[list[CameraView]], None] | None = None, interval_s: float = 2.0) -> None:
        """Block until every worker finished, calling ``status`` every ``interval_s``."""
        while any(c.worker.is_alive() for c in self._cameras):
            for c in self._cameras:
                c.worker.join(timeout=interval_s / max(len(self._cameras), 1))
            self._update_spool_gauges()
            if status is not None:
                status(self.views())

    def close(self, timeout_s: float | None = None) -> bool:
        """Stop, wait for the workers, flush the publisher; True when everything was delivered."""
        self.stop()
        for cam in self._cameras:
            cam.worker.join(timeout=30)
        if self._batcher is not None:
            self._batcher.close()
        drained = self.publisher.close(timeout_s)
        self._update_spool_gauges()
        return drained

    def views(self) -> list[CameraView]:
        """Status of every camera."""
        return [c.view() for c in self._cameras]

    def _update_spool_gauges(self) -> None:
        self.metrics.spool_depth.set(self.publisher.spool.depth)
        self.metrics.spool_bytes.set(self.publisher.spool.bytes)

    def _work(self, cam: _Camera) -> None:
        m = self.metrics
        processed = m.frames_processed.labels(cam.settings.id)
        errors = m.pipeline_errors.labels(cam.settings.id)
        crops = m.crops_published.labels(cam.settings.id)
        last_ts = self.clock()
        while True:
            frame = cam.reader.slot.get(timeout=0.5)
            if frame is None:
                if cam.reader.slot.closed or (self._stop.is_set() and not cam.reader.is_alive()):
                    break
                continue
            last_ts = frame.ts
            try:
                records = cam.pipeline.process(frame)
            except Exception:  # one bad frame must not stop the camera, nor the others
                errors.inc()
                log.exception("camera %s: frame %s failed", cam.settings.id, frame.index)
                continue
            cam.frames += 1
            processed.inc()
            self._publish(cam, records, crops)
        self._publish(cam, cam.pipeline.close(last_ts), crops)
        log.info("camera %s: worker done after %s frames", cam.settings.id, cam.frames)

    def _publish(self, cam: _Camera, records: list[Record], crops_counter) -> None:  # noqa: ANN001
        for rec in records:
            if isinstance(rec, PlateCrop):
                if self.publisher.publish_crop(rec):
                    cam.published += 1
                    crops_counter.inc()
            else:
                self.publisher.publish_track_event(rec)
