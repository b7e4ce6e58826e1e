"""Per-camera processing: frame -> plate boxes (ROI) -> tracks -> scored crops -> records.

:class:`CameraPipeline` holds the bounded per-camera state (tracker, crop selector, open tracks)
and turns each :class:`~edge.camera.Frame` into the records to publish, in order: a track's
START, then its crops (the best few per time slice), then its END. It does no I/O; the detector
and the clock are injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from config.edge import CameraSettings, EdgeSettings
from edge.camera import Frame
from edge.crops import CropCandidate, CropSelector, encode_jpeg, pad_box, quality_score, sharpness
from edge.detect import Detections, Detector
from edge.metrics import EdgeMetrics
from edge.records import PlateCrop, TrackEvent, TrackEventKind, box_from_xyxy
from edge.track import Tracker, TrackState, attach_to_vehicles

log = logging.getLogger(__name__)

__all__ = ["CameraPipeline", "Record", "in_polygon"]

Record = PlateCrop | TrackEvent


def in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which of ``points`` (N, 2) lie inside ``polygon`` (M, 2) (even-odd rule); (N,) bool."""
    x, y = points[:, 0:1], points[:, 1:2]
    px, py = polygon[:, 0], polygon[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    crosses = (py > y) != (qy > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = px + (y - py) * (qx - px) / (qy - py)
    return np.logical_and(crosses, x < x_at).sum(axis=1) % 2 == 1


@dataclass(slots=True)
class _Stats:
    frames: int = 0
    tracks_started: int = 0
    crops: int = 0


class CameraPipeline:
    """Detection, tracking and crop selection for one camera."""

    def __init__(
        self,
        camera: CameraSettings,
        edge: EdgeSettings,
        *,
        site: str,
        run_id: str,
        detector: Detector,
        vehicle_detector: Detector | None = None,
        metrics: EdgeMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self._edge = edge
        self._site = site
        self._detector = detector
        self._vehicle_detector = vehicle_detector
        self._clock = clock
        self._metrics = metrics
        self._tracker = Tracker(edge.tracker, f"{run_id}-{camera.id}", frame_rate=camera.fps_cap)
        self._vehicles = (
            Tracker(edge.tracker, f"{run_id}-{camera.id}-v", frame_rate=camera.fps_cap)
            if vehicle_detector
            else None
        )
        self._selector = CropSelector(edge.crops)
        self._open: dict[str, TrackState] = {}
        self._roi = np.asarray(camera.roi, np.float32) if camera.roi else None
        self.stats = _Stats()
        if metrics is not None:
            self._m_detect = metrics.latency.labels(camera.id, "detect")
            self._m_track = metrics.latency.labels(camera.id, "track")
            self._m_crop = metrics.latency.labels(camera.id, "crop")

    @property
    def open_tracks(self) -> int:
        """Plate tracks currently open."""
        return len(self._open)

    def _plates(self, frame: Frame) -> Detections:
        dets = self._detector.detect(frame.image)
        if len(dets) and self._roi is not None:
            centres = (dets.xyxy[:, :2] + dets.xyxy[:, 2:]) / 2
            dets = dets.select(in_polygon(centres, self._roi))
        if len(dets):
            dets = dets.select(dets.xyxy[:, 2] - dets.xyxy[:, 0] >= self._edge.crops.min_width)
        return dets

    def process(self, frame: Frame) -> list[Record]:
        """Records caused by one frame (START events, released crops, END events), in publish order."""
        t0 = time.perf_counter()
        plates = self._plates(frame)
        vehicles = None
        if self._vehicle_detector is not None:
            vd = self._vehicle_detector.detect(frame.image)
            vehicles = vd.select(np.isin(vd.class_id, self._edge.vehicle_classes))
        t1 = time.perf_counter()
        update = self._tracker.update(plates, frame.ts)
        attached = {}
        if vehicles is not None and self._vehicles is not None:
            attached = attach_to_vehicles(update.boxes, self._vehicles.update(vehicles, frame.ts).boxes)
        t2 = time.perf_counter()
        out: list[Record] = []
        for state in update.started:
            self._open[state.track_id] = state
            self.stats.tracks_started += 1
            out.append(self._event(state, TrackEventKind.START, frame.ts, state.first_conf))
        h, w = frame.image.shape[:2]
        for box in update.boxes:
            x1, y1, x2, y2 = pad_box(box.xyxy, self._edge.crops.padding, w, h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            crop = frame.image[y1:y2, x1:x2]
            sharp = sharpness(crop)
            vehicle = attached.get(box.track_id)
            cand = CropCandidate(
                track_id=box.track_id,
                frame_index=frame.index,
                frame_ts=frame.ts,
                xyxy=box.xyxy,
                confidence=box.confidence,
                quality=quality_score(box.xyxy, box.confidence, sharp, w, h),
                sharpness=sharp,
                frame_width=w,
                frame_height=h,
                image=crop.copy(),
                vehicle_track_id=vehicle.track_id if vehicle else None,
                vehicle_xyxy=vehicle.xyxy if vehicle else None,
            )
            out.extend(self._crop(c) for c in self._selector.offer(cand))
        for state in update.ended:
            out.extend(self._end(state, frame.ts))
        t3 = time.perf_counter()
        self.stats.frames += 1
        if self._metrics is not None:
            self._m_detect.observe(t1 - t0)
            self._m_track.observe(t2 - t1)
            self._m_crop.observe(t3 - t2)
            self._metrics.tracks_active.labels(self.camera.id).set(len(self._open))
        return out

    def close(self, ts: float) -> list[Record]:
        """End every open track (camera ended or process stopping): their last crops, then END."""
        out: list[Record] = []
        for state in self._tracker.close():
            out.extend(self._end(state, ts))
        return out

    def _end(self, state: TrackState, ts: float) -> list[Record]:
        out: list[Record] = [self._crop(c) for c in self._selector.close(state.track_id)]
        self._open.pop(state.track_id, None)
        out.append(self._event(state, TrackEventKind.END, max(ts, state.last_ts), state.mean_confidence))
        return out

    def _crop(self, c: CropCandidate) -> PlateCrop:
        state = self._open.get(c.track_id)
        if state is not None:
            state.crops_published += 1
        self.stats.crops += 1
        return PlateCrop(
            camera_id=self.camera.id,
            site=self._site,
            track_id=c.track_id,
            frame_index=c.frame_index,
            frame_ts=c.frame_ts,
            published_ts=self._clock(),
            bbox=box_from_xyxy(c.xyxy),
            frame_width=c.frame_width,
            frame_height=c.frame_height,
            det_confidence=c.confidence,
            quality=c.quality,
            sharpness=c.sharpness,
            image=encode_jpeg(c.image, self._edge.crops.jpeg_quality),
            vehicle_track_id=c.vehicle_track_id,
            vehicle_bbox=box_from_xyxy(c.vehicle_xyxy) if c.vehicle_xyxy else None,
        )

    def _event(self, state: TrackState, kind: TrackEventKind, ts: float, confidence: float) -> TrackEvent:
        return TrackEvent(
            camera_id=self.camera.id,
            site=self._site,
            track_id=state.track_id,
            kind=kind,
            ts=ts,
            bbox=box_from_xyxy(state.last_box),
            confidence=confidence,
            frames=state.frames,
            crops_published=state.crops_published,
        )
