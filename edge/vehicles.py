"""The vehicle stage of one camera: detect, track, type, colour, best crop.

Vehicles are detected at most every ``edge.vehicles.interval_s`` (0: every frame) by the vehicle
detector (the shipped YOLOX-Nano COCO model: car, motorcycle, bus and truck are one vehicle class,
the type an attribute voted over the track) and tracked with ByteTrack (:class:`edge.track.Tracker`;
large boxes hold well at low rates). On the frames between, each vehicle's box is carried forward
at its last velocity, so plates always have the vehicle boxes of their own frame to tie to.

Per vehicle track the stage keeps its type vote (detector confidence), colour vote
(:func:`edge.colour.vehicle_colour`, weighted by box area), the best crop (largest, most
confident box not cut by the frame edge), how long and how far it was tracked, and how many plate
sightings were tied to it (for the no-plate events of :mod:`edge.pipeline`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import cv2
import numpy as np

from config.edge import TrackerSettings, VehicleSettings
from edge.camera import Frame
from edge.classify import MakeModel, VehicleClassifier
from edge.colour import vehicle_colour
from edge.detect import Detector
from edge.track import TrackedBox, Tracker

__all__ = ["VehicleStage", "VehicleTrack", "VehicleUpdate"]

#: Longest side of a kept vehicle crop (pixels): enough for a person or a classifier to see the car.
_CROP_MAX_SIDE = 800
#: A box closer than this to the frame edge (pixels) is likely cut off.
_EDGE_PX = 3


@dataclass(slots=True)
class VehicleTrack:
    """Running state of one confirmed vehicle track (owned by its :class:`VehicleStage`)."""

    track_id: str
    first_ts: float
    last_ts: float
    first_box: tuple[float, float, float, float]
    last_box: tuple[float, float, float, float]
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # box corners, pixels per second
    frames: int = 0
    max_width: float = 0.0
    max_height: float = 0.0
    travel: float = 0.0  # largest distance of the box centre from where it started, pixels
    plates_seen: int = 0  # plate sightings tied to this vehicle
    type_votes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    colour_votes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    best_score: float = -1.0
    best_crop: np.ndarray | None = None
    best_box: tuple[float, float, float, float] | None = None
    best_confidence: float = 0.0
    best_frame_index: int = 0
    best_ts: float = 0.0
    frame_size: tuple[int, int] = (0, 0)  # (width, height)
    make_model: MakeModel | None = None
    classified: bool = False

    @property
    def vehicle_type(self) -> str | None:
        """The type with the most confidence over the track's detections."""
        return max(self.type_votes.items(), key=lambda kv: kv[1])[0] if self.type_votes else None

    @property
    def colour(self) -> str | None:
        """The colour with the most box area over the track's detections."""
        return max(self.colour_votes.items(), key=lambda kv: kv[1])[0] if self.colour_votes else None

    @property
    def travel_heights(self) -> float:
        """How far the vehicle moved, in its own (largest) box heights."""
        return self.travel / max(self.max_height, 1.0)

    def carried(self, ts: float) -> tuple[float, float, float, float]:
        """The box moved on from the last detection at the track's velocity."""
        dt = ts - self.last_ts
        return tuple(b + v * dt for b, v in zip(self.last_box, self.velocity, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class VehicleUpdate:
    """Vehicle boxes of one frame (detected or carried) and the vehicle tracks that ended."""

    boxes: tuple[TrackedBox, ...]
    ended: tuple[VehicleTrack, ...] = ()
    detected: bool = False


class VehicleStage:
    """Vehicle detection every ``interval_s``, ByteTrack, and per-track type, colour and best crop."""

    def __init__(
        self,
        settings: VehicleSettings,
        tracker: TrackerSettings,
        detector: Detector,
        prefix: str,
        *,
        frame_rate: float = 10.0,
        keep_crops: bool = False,
        classifier: VehicleClassifier | None = None,
    ) -> None:
        self._settings = settings
        self._detector = detector
        self._tracker = Tracker(tracker, prefix, frame_rate=frame_rate)
        self._types = {int(k): v for k, v in settings.types.items()}
        self._classes = np.asarray(sorted(self._types), np.int32)
        self._keep_crops = keep_crops or classifier is not None
        self._classifier = classifier
        self._last_run: float | None = None
        self.tracks: dict[str, VehicleTrack] = {}

    def update(self, frame: Frame, plates: bool = True) -> VehicleUpdate:
        """Detect (when due) and track the vehicles of one frame; carry the boxes forward otherwise.

        The detector runs every ``interval_s`` while a vehicle is tracked or ``plates`` were seen in
        the frame, and every ``idle_interval_s`` on an empty scene (to find vehicles without plates).
        """
        ts = frame.ts
        busy = plates or bool(self.tracks) or self._tracker.tracking
        idle = max(self._settings.interval_s, self._settings.idle_interval_s)
        every = self._settings.interval_s if busy else idle
        due = self._last_run is None or ts - self._last_run >= every - 1e-6
        if not due:
            return VehicleUpdate(self._carried(ts))
        self._last_run = ts
        dets = self._detector.detect(frame.image)
        dets = dets.select(np.isin(dets.class_id, self._classes))
        update = self._tracker.update(dets, ts)
        for box in update.boxes:
            self._observe(box, frame)
        ended = tuple(self.tracks.pop(s.track_id) for s in update.ended if s.track_id in self.tracks)
        return VehicleUpdate(update.boxes, ended, detected=True)

    def close(self) -> tuple[VehicleTrack, ...]:
        """End every open vehicle track."""
        self._tracker.close()
        ended = tuple(self.tracks.values())
        self.tracks.clear()
        return ended

    def make_model(self, track: VehicleTrack) -> MakeModel | None:
        """The classifier's answer for a track's best crop (asked once per track; None without one)."""
        if self._classifier is not None and not track.classified and track.best_crop is not None:
            track.classified = True
            track.make_model = self._classifier.classify(track.best_crop)
        return track.make_model

    def _carried(self, ts: float) -> tuple[TrackedBox, ...]:
        if self._last_run is None:
            return ()
        return tuple(
            TrackedBox(t.track_id, t.carried(ts), 0.0)
            for t in self.tracks.values()
            if t.last_ts >= self._last_run  # seen at the last detection
        )

    def _observe(self, box: TrackedBox, frame: Frame) -> None:
        ts = frame.ts
        track = self.tracks.get(box.track_id)
        if track is None:
            track = self.tracks[box.track_id] = VehicleTrack(box.track_id, ts, ts, box.xyxy, box.xyxy)
        elif ts > track.last_ts:
            dt = ts - track.last_ts
            track.velocity = tuple((b - a) / dt for a, b in zip(track.last_box, box.xyxy, strict=True))  # type: ignore[assignment]
        track.last_ts = ts
        track.last_box = box.xyxy
        track.frames += 1
        x1, y1, x2, y2 = box.xyxy
        w, h = x2 - x1, y2 - y1
        track.max_width = max(track.max_width, w)
        track.max_height = max(track.max_height, h)
        fx1, fy1, fx2, fy2 = track.first_box
        track.travel = max(track.travel, math.hypot((x1 + x2 - fx1 - fx2) / 2, (y1 + y2 - fy1 - fy2) / 2))
        kind = self._types.get(box.class_id)
        if kind is not None:
            track.type_votes[kind] += box.confidence
        image = frame.image
        fh, fw = image.shape[:2]
        if self._settings.colour:
            colour = vehicle_colour(image, box.xyxy)
            if colour is not None:
                track.colour_votes[colour] += w * h
        cut = min(x1, y1, fw - x2, fh - y2) < _EDGE_PX
        score = w * h * box.confidence * (0.25 if cut else 1.0)
        if score > track.best_score:
            track.best_score = score
            track.best_box = box.xyxy
            track.best_confidence = box.confidence
            track.best_frame_index = frame.index
            track.best_ts = ts
            track.frame_size = (fw, fh)
            if self._keep_crops:
                track.best_crop = _crop(image, box.xyxy)


def _crop(image: np.ndarray, xyxy: tuple[float, float, float, float]) -> np.ndarray | None:
    fh, fw = image.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(fw, int(math.ceil(xyxy[2]))), min(fh, int(math.ceil(xyxy[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    crop = image[y1:y2, x1:x2]
    scale = _CROP_MAX_SIDE / max(crop.shape[:2])
    if scale < 1:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return crop.copy()
