"""Plate tracks at 5-30 fps: tied to their vehicle, else matched by motion."""

from __future__ import annotations

import numpy as np
import pytest

from config.edge import TrackerSettings
from edge.associate import PlateTracker, vehicle_of
from edge.detect import Detections
from edge.track import TrackedBox


def _dets(*boxes: tuple[float, float, float, float], conf: float = 0.8) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(
        np.array(boxes, np.float32), np.full(len(boxes), conf, np.float32), np.zeros(len(boxes), np.int32)
    )


def test_vehicle_of_takes_the_box_whose_bottom_is_nearest_the_plate() -> None:
    plate = (100, 200, 140, 215)  # centre (120, 207.5)
    front = TrackedBox("front", (40, 60, 260, 240), 0.9)  # plate near its bottom
    behind = TrackedBox("behind", (60, 20, 200, 215), 0.9)  # overlapping car further back
    assert vehicle_of(plate, (behind, front)).track_id == "behind"  # its bottom is nearer still
    assert vehicle_of(plate, (front,)).track_id == "front"
    roof = TrackedBox("roof", (80, 200, 160, 600), 0.9)  # plate at the top of this box
    assert vehicle_of(plate, (roof,)) is None
    assert vehicle_of(plate, (TrackedBox("far", (300, 300, 400, 400), 0.9),)) is None
    assert vehicle_of(plate, ()) is None


@pytest.mark.parametrize("fps", [5.0, 8.0, 10.0, 15.0, 30.0])
def test_a_fast_plate_without_vehicle_is_one_track_at_every_rate(fps: float) -> None:
    """A 60 px plate crossing 600 px/s (10 widths per second) and speeding up: boxes of consecutive
    frames do not overlap at low rates, motion keeps them together."""
    tracker = PlateTracker(TrackerSettings(), "cam")
    ids, started, ended = set(), [], []
    n = int(1.5 * fps)
    for i in range(n + int(2 * fps)):
        t = i / fps
        x = 100 + 600 * t + 150 * t * t
        update, attached = tracker.update(_dets((x, 300, x + 60, 320)) if i < n else _dets(), 1000 + t)
        ids |= {b.track_id for b in update.boxes}
        started += update.started
        ended += update.ended
        assert attached == {}
    assert len(started) == len(ended) == 1 and ids == {started[0].track_id}, ids
    assert started[0].track_id.startswith("cam-") and ended[0].frames == n


def test_a_plate_rides_its_vehicle_however_far_it_jumps() -> None:
    tracker = PlateTracker(TrackerSettings(), "cam")
    ids = set()
    for i in range(6):  # 2 fps, the car (and plate) jump 400 px between frames
        x = 100 + 400 * i
        car = TrackedBox("car-1", (x - 50, 100, x + 250, 400), 0.9)
        update, attached = tracker.update(_dets((x + 70, 330, x + 130, 350)), 1000 + i / 2, (car,))
        ids |= {b.track_id for b in update.boxes}
        if update.boxes:
            assert attached[update.boxes[0].track_id].track_id == "car-1"
    assert len(ids) == 1


def test_plates_on_two_vehicles_never_swap() -> None:
    tracker = PlateTracker(TrackerSettings(), "cam")
    seen: dict[str, set[str]] = {"a": set(), "b": set()}
    for i in range(10):
        # Two cars side by side, plates close together: motion alone could mix them up.
        a = TrackedBox("veh-a", (0, 0, 200, 300), 0.9)
        b = TrackedBox("veh-b", (205, 0, 405, 300), 0.9)
        plates = [(140 + 2 * i, 250, 195 + 2 * i, 265), (210 - 2 * i, 250, 265 - 2 * i, 265)]
        update, attached = tracker.update(_dets(*plates), 10 + i / 10, (a, b))
        for box in update.boxes:
            seen["a" if attached[box.track_id].track_id == "veh-a" else "b"].add(box.track_id)
    assert len(seen["a"]) == len(seen["b"]) == 1 and seen["a"] != seen["b"]


def test_weak_detections_continue_but_never_start_tracks() -> None:
    tracker = PlateTracker(TrackerSettings(activation_threshold=0.4), "cam")
    for i in range(5):
        update, _ = tracker.update(_dets((100, 100, 160, 120), conf=0.3), 1 + i / 10)
        assert update.boxes == () and update.started == ()
    for i in range(2):
        update, _ = tracker.update(_dets((100, 100, 160, 120), conf=0.8), 2 + i / 10)
    assert len(update.started) == 1
    update, _ = tracker.update(_dets((102, 100, 162, 120), conf=0.3), 2.3)
    assert len(update.boxes) == 1, "a weak sighting continues the track"
    assert len(tracker.close()) == 1 and tracker.close() == ()


def test_time_going_backwards_and_size_jumps() -> None:
    tracker = PlateTracker(TrackerSettings(), "cam")
    for ts in (10.0, 10.1, 10.2, 10.15, 10.3):
        update, _ = tracker.update(_dets((10, 10, 60, 30)), ts)
    assert len(update.boxes) == 1
    update, _ = tracker.update(_dets((10, 10, 400, 130)), 10.4)  # 8x wider: another object
    assert update.boxes == ()
