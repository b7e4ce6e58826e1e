"""Tracking: one track per moving plate, start/end in seconds whatever the frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from config.edge import TrackerSettings
from edge.detect import Detections
from edge.track import Tracker


def _dets(*boxes: tuple[float, float, float, float], conf: float = 0.8) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(
        np.array(boxes, np.float32), np.full(len(boxes), conf, np.float32), np.zeros(len(boxes), np.int32)
    )


@pytest.mark.parametrize("fps", [10.0, 30.0])
def test_one_moving_plate_is_one_track_that_ends_after_the_buffer(fps: float) -> None:
    tracker = Tracker(TrackerSettings(lost_buffer_s=1.0, min_consecutive_frames=2), "run-cam", frame_rate=fps)
    started, ended, ids = [], [], set()
    t0 = 1_700_000_000.0
    n_seen = int(2 * fps)  # plate visible 2 s, moving 60 px/s
    for i in range(n_seen + int(3 * fps)):
        ts = t0 + i / fps
        x = 100 + 60 * i / fps
        update = tracker.update(_dets((x, 200, x + 80, 230)) if i < n_seen else _dets(), ts)
        started += update.started
        ended += [(s, ts) for s in update.ended]
        ids |= {b.track_id for b in update.boxes}
    assert len(started) == 1 and ids == {started[0].track_id}
    assert started[0].track_id.startswith("run-cam-")
    ((state, end_ts),) = ended
    last_seen = t0 + (n_seen - 1) / fps
    assert 1.0 < end_ts - last_seen <= 1.0 + 1.5 / fps, "ends lost_buffer_s after the last sighting"
    assert state.frames >= n_seen - 2 and 0.79 < state.mean_confidence < 0.81


def test_two_plates_two_tracks_and_close_ends_them() -> None:
    tracker = Tracker(TrackerSettings(), "r")
    for i in range(5):
        update = tracker.update(_dets((10 + i, 10, 60 + i, 30), (400, 300 + i, 460, 320 + i)), 100.0 + i / 10)
    assert len(update.boxes) == 2 and len({b.track_id for b in update.boxes}) == 2
    assert len(tracker.close()) == 2 and tracker.close() == ()


def test_time_going_backwards_does_not_break_tracking() -> None:
    tracker = Tracker(TrackerSettings(), "r")
    for ts in (10.0, 10.1, 10.2, 10.15, 10.3):
        update = tracker.update(_dets((10, 10, 60, 30)), ts)
    assert len(update.boxes) == 1
