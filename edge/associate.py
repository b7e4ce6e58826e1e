"""Plate tracks that hold at the frame rates cameras run (5-30 fps).

A plate is small: at 5-10 fps it moves further than its own size between frames, so plate boxes
of consecutive frames often do not overlap and IoU tracking loses them. Here each plate
detection is first tied to the vehicle carrying it (:func:`vehicle_of`: the vehicle box holding
the plate's centre in its lower part), and a plate track follows its vehicle track; a plate with
no vehicle around it is matched by motion instead: the distance from where its track's velocity
puts it, in plate widths, within a gate that widens with the time since the track was last seen.

:class:`PlateTracker` has the lifecycle of :class:`edge.track.Tracker` (tracks start when
confirmed, end ``lost_buffer_s`` after their last sighting) and returns the same
:class:`~edge.track.TrackUpdate`. Pure: numpy and scipy, times come with the frames.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from config.edge import TrackerSettings
from edge.detect import Detections
from edge.track import TrackedBox, TrackState, TrackUpdate

__all__ = ["PlateTracker", "vehicle_of"]

#: A plate sits in the lower part of its vehicle's box: its centre at most this far up from the
#: box's bottom edge, as a fraction of the box height (front and rear plates of cars, trucks,
#: buses and motorcycles sit 0.1-0.5 up; 0.75 leaves room for boxes cut by the frame).
_PLATE_HEIGHT_IN_VEHICLE = 0.75
_FORBIDDEN = 1e6


def vehicle_of(plate: Sequence[float], vehicles: Sequence[TrackedBox]) -> TrackedBox | None:
    """The vehicle carrying a plate box ``(x1, y1, x2, y2)``, or None.

    Candidates hold the plate's centre in their lower part; of those the one whose bottom edge
    is nearest the plate (relative to its height) wins: behind a car whose box overlaps another,
    the front car's plate lies near the front car's bottom edge, not the other's.
    """
    cx = (plate[0] + plate[2]) / 2
    cy = (plate[1] + plate[3]) / 2
    best: TrackedBox | None = None
    best_rise = math.inf
    for v in vehicles:
        x1, y1, x2, y2 = v.xyxy
        if not (x1 <= cx <= x2 and y1 <= cy <= y2):
            continue
        rise = (y2 - cy) / max(y2 - y1, 1e-6)
        if rise <= _PLATE_HEIGHT_IN_VEHICLE and rise < best_rise:
            best, best_rise = v, rise
    return best


@dataclass(slots=True)
class _Track:
    state: TrackState
    vehicle: str | None
    centre: tuple[float, float]
    width: float
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second
    hits: int = 1
    confirmed: bool = False

    def predict(self, ts: float) -> tuple[float, float]:
        dt = ts - self.state.last_ts
        return self.centre[0] + self.velocity[0] * dt, self.centre[1] + self.velocity[1] * dt


def _centre(xyxy: Sequence[float]) -> tuple[float, float]:
    return (xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2


class PlateTracker:
    """Plate tracks of one camera; ids ``"<prefix>-<n>"`` (unique per camera and run).

    Each frame, detections are matched to open tracks by minimum total cost (Hungarian):
    a detection on the same vehicle as a track always may match it; otherwise the detection must
    lie within ``motion_gate + motion_gate_per_s * dt`` plate widths of the track's predicted
    centre, and a track tied to one vehicle takes a plate tied to another only at a higher cost
    (the vehicle tracker may have lost and re-found the car), so plates of two vehicles side by
    side never swap. Detections of at
    least ``activation_threshold`` start tracks; weaker ones only continue them. A track is
    confirmed (published) after ``min_consecutive_frames`` sightings.
    """

    def __init__(self, settings: TrackerSettings, prefix: str) -> None:
        self._settings = settings
        self._prefix = prefix
        self._ids = itertools.count(1)
        self._tracks: list[_Track] = []
        self._last_ts: float | None = None

    @property
    def active(self) -> dict[str, TrackState]:
        """Confirmed open tracks by id."""
        return {t.state.track_id: t.state for t in self._tracks if t.confirmed}

    def update(
        self, dets: Detections, ts: float, vehicles: Sequence[TrackedBox] = ()
    ) -> tuple[TrackUpdate, dict[str, TrackedBox]]:
        """Feed one frame's plate detections (and the frame's vehicle boxes) at capture time ``ts``.

        Returns the update and, for each box of a confirmed track, the vehicle carrying it.
        """
        if self._last_ts is not None and ts <= self._last_ts:
            ts = self._last_ts + 1e-3  # clock went back (NTP step, looped file): keep time monotonic
        self._last_ts = ts
        s = self._settings
        boxes = [tuple(float(v) for v in b) for b in dets.xyxy]
        confs = [float(c) for c in dets.confidence]
        carriers = [vehicle_of(b, vehicles) for b in boxes]
        pairs = self._match(boxes, carriers, ts)
        out_boxes: list[TrackedBox] = []
        attached: dict[str, TrackedBox] = {}
        started: list[TrackState] = []
        matched = set()
        for ti, di in pairs:
            track = self._tracks[ti]
            matched.add(di)
            self._observe(track, boxes[di], confs[di], ts, carriers[di])
            if not track.confirmed and track.hits >= s.min_consecutive_frames:
                track.confirmed = True
                started.append(track.state)
        for di, box in enumerate(boxes):
            if di in matched or confs[di] < s.activation_threshold:
                continue
            track = self._new(box, confs[di], ts, carriers[di])
            pairs.append((len(self._tracks) - 1, di))
            if s.min_consecutive_frames <= 1:
                track.confirmed = True
                started.append(track.state)
        for ti, di in pairs:
            track = self._tracks[ti]
            if track.confirmed:
                box = TrackedBox(track.state.track_id, boxes[di], confs[di])  # type: ignore[arg-type]
                out_boxes.append(box)
                if carriers[di] is not None:
                    attached[track.state.track_id] = carriers[di]  # type: ignore[assignment]
        ended: list[TrackState] = []
        kept: list[_Track] = []
        for track in self._tracks:
            if ts - track.state.last_ts > s.lost_buffer_s:
                if track.confirmed:
                    ended.append(track.state)
            else:
                kept.append(track)
        self._tracks = kept
        return TrackUpdate(tuple(out_boxes), tuple(started), tuple(ended)), attached

    def close(self) -> tuple[TrackState, ...]:
        """End every open track (camera closed or process exiting)."""
        ended = tuple(t.state for t in self._tracks if t.confirmed)
        self._tracks.clear()
        return ended

    def _match(
        self, boxes: list[tuple[float, ...]], carriers: list[TrackedBox | None], ts: float
    ) -> list[tuple[int, int]]:
        if not self._tracks or not boxes:
            return []
        s = self._settings
        cost = np.full((len(self._tracks), len(boxes)), _FORBIDDEN)
        for ti, track in enumerate(self._tracks):
            px, py = track.predict(ts)
            gate = s.motion_gate + s.motion_gate_per_s * (ts - track.state.last_ts)
            for di, box in enumerate(boxes):
                width = max(box[2] - box[0], 1.0)
                if not 0.5 <= width / track.width <= 2.0:
                    continue
                cx, cy = _centre(box)
                distance = math.hypot(cx - px, cy - py) / max(width, track.width)
                vehicle = carriers[di].track_id if carriers[di] is not None else None
                if track.vehicle is not None and track.vehicle == vehicle:
                    cost[ti, di] = distance / (1.0 + distance)  # the plate rides its vehicle: no gate
                elif distance <= gate:
                    # By motion; across two vehicle ids (the vehicle tracker lost and re-found the
                    # car) only when no plate of the same vehicle wants the track.
                    other = track.vehicle is not None and vehicle is not None
                    cost[ti, di] = (3.0 if other else 1.0) + distance
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _FORBIDDEN]

    def _new(self, box: tuple[float, ...], conf: float, ts: float, carrier: TrackedBox | None) -> _Track:
        state = TrackState(f"{self._prefix}-{next(self._ids)}", ts, ts, box, 1, conf, conf)  # type: ignore[arg-type]
        cx, cy = _centre(box)
        track = _Track(
            state,
            carrier.track_id if carrier is not None else None,
            (cx, cy),
            max(box[2] - box[0], 1.0),
        )
        self._tracks.append(track)
        return track

    @staticmethod
    def _observe(track: _Track, box: tuple[float, ...], conf: float, ts: float, carrier: TrackedBox | None) -> None:
        cx, cy = _centre(box)
        dt = ts - track.state.last_ts
        if dt > 0:
            vx, vy = (cx - track.centre[0]) / dt, (cy - track.centre[1]) / dt
            # Velocity of the last two sightings, weighted with the previous estimate once there is one
            # (plates approaching a camera speed up in the image: the newest step counts most).
            old = track.velocity
            track.velocity = (vx, vy) if track.hits == 1 else (0.7 * vx + 0.3 * old[0], 0.7 * vy + 0.3 * old[1])
        track.centre = (cx, cy)
        track.width = max(box[2] - box[0], 1.0)
        track.hits += 1
        if carrier is not None:  # follows the vehicle's current track id
            track.vehicle = carrier.track_id
        state = track.state
        state.last_ts = ts
        state.last_box = box  # type: ignore[assignment]
        state.frames += 1
        state.conf_sum += conf
