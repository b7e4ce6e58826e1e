"""Per-camera processing: frame -> vehicles + plate boxes (ROI) -> tracks -> scored crops -> records.

:class:`CameraPipeline` holds the bounded per-camera state (vehicle stage, plate tracker, crop
selector, open tracks) and turns each :class:`~edge.camera.Frame` into the records to publish, in
order: a track's START, then its crops (the best few per time slice, each with the vehicle that
carries the plate: track, box, type, colour), then its END; and, on cameras with
``no_plate_events``, a no-plate record for each vehicle that passed with no plate seen on it. It
does no I/O; the detectors and the clock are injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from config.edge import CameraSettings, EdgeSettings
from edge.associate import PlateTracker
from edge.camera import Frame
from edge.classify import VehicleClassifier
from edge.crops import CropCandidate, CropSelector, encode_jpeg, pad_box, quality_score, sharpness
from edge.detect import Detections, Detector
from edge.metrics import EdgeMetrics
from edge.plate_look import LookSchedule, look_in_vehicles, single_pass
from edge.records import PlateCrop, TrackEvent, TrackEventKind, box_from_xyxy, plate_crop
from edge.track import TrackedBox, TrackState
from edge.vehicles import VehicleStage, VehicleTrack
from ocr.band import look_for_band

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
        classifier: VehicleClassifier | None = None,
        metrics: EdgeMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self._edge = edge
        self._site = site
        self._detector = detector
        self._look_detector = single_pass(detector)
        self._looks = LookSchedule(edge.vehicles.plate_look.backoff_s)
        self._clock = clock
        self._metrics = metrics
        self._tracker = PlateTracker(edge.tracker, f"{run_id}-{camera.id}")
        self._vehicles: VehicleStage | None = None
        if vehicle_detector is not None:
            interval = edge.vehicles.interval_s
            self._vehicles = VehicleStage(
                edge.vehicles,
                edge.tracker,
                vehicle_detector,
                f"{run_id}-{camera.id}-v",
                frame_rate=min(camera.fps_cap, 1 / interval) if interval > 0 else camera.fps_cap,
                keep_crops=camera.no_plate_events,
                classifier=classifier,
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

    def _look(self, frame: Frame, plates: Detections, vehicles: tuple[TrackedBox, ...]) -> Detections:
        """``plates`` and those found inside the due vehicles with none (edge/plate_look.py)."""
        settings = self._edge.vehicles.plate_look
        if not settings.enabled:
            return plates
        due = [v for v in vehicles if self._looks.due(v.track_id, frame.ts)]
        looked = look_in_vehicles(self._look_detector, frame.image, plates, [v.xyxy for v in due], settings)
        for i in looked.looked:
            self._looks.looked(due[i].track_id, frame.ts, i in looked.held)
        if looked.vehicles and self._metrics is not None:
            m = self._metrics.plate_looks
            m.labels(self.camera.id, "found").inc(looked.found)
            m.labels(self.camera.id, "empty").inc(looked.vehicles - len(looked.held))
        return self._kept(looked.plates) if looked.found else plates

    def _plates(self, frame: Frame) -> Detections:
        return self._kept(self._detector.detect(frame.image))

    def _kept(self, dets: Detections) -> Detections:
        """The boxes within the camera's region of interest and at least ``crops.min_width`` wide."""
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
        vehicles = self._vehicles.update(frame, len(plates) > 0) if self._vehicles is not None else None
        if vehicles is not None and vehicles.detected:  # plates inside the vehicles where none was found
            plates = self._look(frame, plates, vehicles.boxes)
        if vehicles is not None and vehicles.ended:
            self._looks.forget(v.track_id for v in vehicles.ended)
        t1 = time.perf_counter()
        update, attached = self._tracker.update(plates, frame.ts, vehicles.boxes if vehicles else ())
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
            vtrack = self._vehicle_track(vehicle.track_id if vehicle else None)
            if vtrack is not None:
                vtrack.plates_seen += 1
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
                vehicle_type=vtrack.vehicle_type if vtrack else None,
                vehicle_colour=vtrack.colour if vtrack else None,
            )
            out.extend(self._crop(c) for c in self._selector.offer(cand))
        for state in update.ended:
            out.extend(self._end(state, frame.ts))
        if vehicles is not None:
            out.extend(r for v in vehicles.ended if (r := self._no_plate(v)) is not None)
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
        if self._vehicles is not None:
            out.extend(r for v in self._vehicles.close() if (r := self._no_plate(v)) is not None)
        return out

    def _vehicle_track(self, track_id: str | None) -> VehicleTrack | None:
        if track_id is None or self._vehicles is None:
            return None
        return self._vehicles.tracks.get(track_id)

    def _no_plate(self, v: VehicleTrack) -> PlateCrop | None:
        """The no-plate record of an ended vehicle track, when the camera reports them and it counts."""
        rules = self._edge.vehicles.no_plate
        if (
            not self.camera.no_plate_events
            or v.plates_seen
            or v.best_crop is None
            or v.best_box is None
            or v.last_ts - v.first_ts < rules.min_duration_s
            or v.max_width < rules.min_width
            or v.travel_heights < rules.min_travel
        ):
            return None
        made = self._vehicles.make_model(v) if self._vehicles is not None else None
        box = box_from_xyxy(v.best_box)
        self.stats.crops += 1
        return plate_crop(
            camera_id=self.camera.id,
            site=self._site,
            track_id=v.track_id,
            frame_index=v.best_frame_index,
            frame_ts=v.best_ts,
            published_ts=self._clock(),
            bbox=box,
            frame_width=v.frame_size[0],
            frame_height=v.frame_size[1],
            det_confidence=v.best_confidence,
            quality=min(1.0, max(0.0, v.best_confidence)),
            sharpness=sharpness(v.best_crop),
            image=encode_jpeg(v.best_crop, self._edge.crops.jpeg_quality),
            vehicle_track_id=v.track_id,
            vehicle_bbox=box,
            vehicle_type=v.vehicle_type,
            vehicle_colour=v.colour,
            vehicle_make=made.make if made else None,
            vehicle_model=made.model if made else None,
            no_plate=True,
        )

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
        vtrack = self._vehicle_track(c.vehicle_track_id)
        made = self._vehicles.make_model(vtrack) if vtrack is not None and self._vehicles else None
        return plate_crop(
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
            # The vote so far of a vehicle still tracked, else its vote when the crop was taken.
            vehicle_type=vtrack.vehicle_type if vtrack else c.vehicle_type,
            vehicle_colour=vtrack.colour if vtrack else c.vehicle_colour,
            vehicle_make=made.make if made else None,
            vehicle_model=made.model if made else None,
            band=look_for_band(c.image).value,  # the flow's country cue, seen before JPEG (ocr/band.py)
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
