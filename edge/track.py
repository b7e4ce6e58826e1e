"""Vehicle tracking: one :class:`Tracker` per camera (plates: :mod:`edge.associate`).

Wraps Roboflow's ``trackers.ByteTrackTracker`` (numpy + scipy, Apache-2.0), fed with capture
times so the lost-track buffer is in seconds whatever the frame rate. On top of it this module
keeps the track lifecycle the edge publishes: a track *starts* when ByteTrack confirms it and
*ends* when it has not been seen for ``lost_buffer_s`` (or when the camera closes).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from config.edge import TrackerSettings
from edge.detect import Detections

__all__ = ["TrackState", "TrackUpdate", "TrackedBox", "Tracker"]


@dataclass(slots=True)
class TrackState:
    """Running state of one confirmed track (owned by its :class:`Tracker`, discarded at end)."""

    track_id: str
    first_ts: float
    last_ts: float
    last_box: tuple[float, float, float, float]
    frames: int = 1
    conf_sum: float = 0.0
    first_conf: float = 0.0
    crops_published: int = 0

    @property
    def mean_confidence(self) -> float:
        """Mean detector confidence over the track's frames."""
        return self.conf_sum / max(self.frames, 1)


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """A box of the current frame that belongs to a confirmed track."""

    track_id: str
    xyxy: tuple[float, float, float, float]
    confidence: float
    class_id: int = -1


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one frame changed: boxes on confirmed tracks, tracks started and ended."""

    boxes: tuple[TrackedBox, ...]
    started: tuple[TrackState, ...] = ()
    ended: tuple[TrackState, ...] = field(default=())


class Tracker:
    """ByteTrack for one camera; track ids are ``"<prefix>-<n>"`` (unique per camera and run)."""

    def __init__(self, settings: TrackerSettings, prefix: str, frame_rate: float = 30.0) -> None:
        from trackers import ByteTrackTracker

        self._settings = settings
        self._prefix = prefix
        self._bt = ByteTrackTracker(
            # trackers counts the buffer in 30 fps frames and converts it to seconds with timestamps.
            lost_track_buffer=max(1, round(settings.lost_buffer_s * 30)),
            frame_rate=frame_rate,
            track_activation_threshold=settings.activation_threshold,
            minimum_consecutive_frames=settings.min_consecutive_frames,
            minimum_iou_threshold=settings.match_iou,
            high_conf_det_threshold=settings.high_conf_threshold,
        )
        self._t0: float | None = None
        self._last_ts: float | None = None
        self.active: dict[int, TrackState] = {}

    def update(self, dets: Detections, ts: float) -> TrackUpdate:
        """Feed one frame's detections at capture time ``ts`` (seconds, increasing)."""
        if self._t0 is None:
            self._t0 = ts
        if self._last_ts is not None and ts <= self._last_ts:
            ts = self._last_ts + 1e-3  # clock went back (NTP step, looped file): keep time monotonic
        self._last_ts = ts
        sv_dets = sv.Detections(xyxy=dets.xyxy, confidence=dets.confidence, class_id=dets.class_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._bt.update(sv_dets, timestamp=ts - self._t0)
        boxes: list[TrackedBox] = []
        started: list[TrackState] = []
        ids = out.tracker_id if out.tracker_id is not None else np.zeros(0, int)
        classes = out.class_id if out.class_id is not None else np.full(len(ids), -1)
        for i, raw_id in enumerate(ids):
            if raw_id < 0:
                continue
            box = tuple(float(v) for v in out.xyxy[i])
            conf = float(out.confidence[i]) if out.confidence is not None else 1.0
            state = self.active.get(int(raw_id))
            if state is None:
                state = TrackState(f"{self._prefix}-{int(raw_id)}", ts, ts, box, 0, 0.0, conf)  # type: ignore[arg-type]
                self.active[int(raw_id)] = state
                started.append(state)
            state.last_ts = ts
            state.last_box = box  # type: ignore[assignment]
            state.frames += 1
            state.conf_sum += conf
            boxes.append(TrackedBox(state.track_id, box, conf, int(classes[i])))  # type: ignore[arg-type]
        gone = [k for k, s in self.active.items() if ts - s.last_ts > self._settings.lost_buffer_s]
        ended = tuple(self.active.pop(k) for k in gone)
        return TrackUpdate(tuple(boxes), tuple(started), ended)

    @property
    def tracking(self) -> bool:
        """True while any track is alive, confirmed or still tentative."""
        return bool(self.active) or bool(getattr(self._bt, "tracks", ()))

    def close(self) -> tuple[TrackState, ...]:
        """End every open track (camera closed or process exiting)."""
        ended = tuple(self.active.values())
        self.active.clear()
        return ended
