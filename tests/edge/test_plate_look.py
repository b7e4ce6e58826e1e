"""A second look for plates inside the vehicles where the frame's pass found none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config.edge import DetectorSettings, PlateLookSettings, VehicleSettings
from edge.detect import Detections, SecondLook, load_detector
from edge.plate_look import MAX_BACKOFF_S, LookSchedule, look_in_vehicles, single_pass
from tests.shared_data import require_data

FRAME = np.zeros((720, 1280, 3), np.uint8)


class Recording:
    """A plate at (10, 10, 50, 20) of every crop it is shown, at ``confidence`` (a test double)."""

    def __init__(self, confidence: float = 0.7) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.confidence = confidence

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        self.shapes.append(frame_bgr.shape)
        return _boxes([10, 10, 50, 20], confidence=self.confidence)


def _boxes(*xyxy: list[float], confidence: float = 0.9) -> Detections:
    n = len(xyxy)
    return Detections(
        np.array(xyxy, np.float32).reshape(n, 4), np.full(n, confidence, np.float32), np.zeros(n, np.int32)
    )


def test_only_vehicles_without_a_plate_are_looked_in_and_boxes_come_back_in_frame_pixels() -> None:
    plates = _boxes([250, 300, 330, 320])  # inside the first vehicle
    vehicles = [(200.0, 200.0, 400.0, 400.0), (600.0, 100.0, 800.0, 300.0)]
    detector = Recording()
    looked = look_in_vehicles(detector, FRAME, plates, vehicles, PlateLookSettings(margin=0.0))
    assert detector.shapes == [(200, 200, 3)]  # the second vehicle alone
    assert (looked.vehicles, looked.found) == (1, 1)
    out = looked.plates
    assert out.xyxy.tolist() == [[250, 300, 330, 320], [610, 110, 650, 120]]
    assert out.confidence.tolist() == pytest.approx([0.9, 0.7])


def test_narrow_vehicles_are_not_looked_in_and_the_widest_go_first() -> None:
    vehicles = [
        (0.0, 0.0, 100.0, 100.0),
        (200.0, 0.0, 400.0, 150.0),
        (500.0, 0.0, 800.0, 150.0),
        (900.0, 0.0, 1150.0, 150.0),
    ]
    detector = Recording()
    look_in_vehicles(detector, FRAME, Detections.empty(), vehicles, PlateLookSettings(margin=0.0, max_per_frame=2))
    assert [s[1] for s in detector.shapes] == [300, 250]  # 100 px is under min_width (128); 200 px is third


def test_the_margin_is_added_and_clipped_to_the_frame() -> None:
    detector = Recording()
    out = look_in_vehicles(
        detector, FRAME, Detections.empty(), [(0.0, 600.0, 200.0, 720.0)], PlateLookSettings(margin=0.1)
    ).plates
    assert detector.shapes == [(132, 220, 3)]  # 20 px more on the right, 12 above; nothing past the frame
    assert out.xyxy.tolist() == [[10, 598, 50, 608]]


def test_a_plate_found_in_two_overlapping_vehicles_is_kept_once() -> None:
    vehicles = [(200.0, 200.0, 400.0, 400.0), (200.0, 200.0, 402.0, 400.0)]
    looked = look_in_vehicles(Recording(), FRAME, Detections.empty(), vehicles, PlateLookSettings(margin=0.0))
    assert len(looked.plates) == 1 and (looked.vehicles, looked.found) == (2, 1)


def test_off_or_nothing_to_look_in_leaves_the_plates_as_they_are() -> None:
    plates = _boxes([250, 300, 330, 320])
    detector = Recording()
    vehicles = [(600.0, 100.0, 800.0, 300.0)]
    assert look_in_vehicles(detector, FRAME, plates, vehicles, PlateLookSettings(enabled=False)).plates is plates
    assert look_in_vehicles(detector, FRAME, plates, [], PlateLookSettings()).plates is plates
    assert detector.shapes == []

    class Nothing:
        def detect(self, frame_bgr: np.ndarray) -> Detections:
            return Detections.empty()

    looked = look_in_vehicles(Nothing(), FRAME, plates, vehicles, PlateLookSettings())
    assert looked.plates is plates and (looked.vehicles, looked.found) == (1, 0)


def test_a_vehicle_is_looked_at_once_never_again_at_a_larger_size() -> None:
    first, second = Recording(), Recording()
    assert single_pass(SecondLook(first, second)) is first
    assert single_pass(first) is first


def test_the_shipped_detectors_find_a_plate_the_frame_pass_misses() -> None:
    """An openalpr-us photo (1280x720): an 90-px plate the plate detector misses at 512 px for the
    whole frame, found inside its car (the labelled box, IoU > 0.4)."""
    folder = require_data("openalpr-us/wts-lg-000097.jpg") / "openalpr-us"
    image = cv2.imread(str(folder / "wts-lg-000097.jpg"))
    label = np.array([617, 553, 617 + 90, 553 + 45], np.float32)  # R589789, from labels.csv
    plates = load_detector(DetectorSettings())
    vehicles = load_detector(VehicleSettings().detector).detect(image)
    first = plates.detect(image)
    assert not any(_iou(b, label) > 0.4 for b in first.xyxy)
    looked = look_in_vehicles(plates, image, first, [tuple(b) for b in vehicles.xyxy], PlateLookSettings())
    assert any(_iou(b, label) > 0.4 for b in looked.plates.xyxy)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def test_a_vehicle_box_that_cuts_a_plate_found_already_does_not_give_it_again() -> None:
    """A plate at a vehicle's edge, its centre outside the vehicle's box: the part of it that the
    look finds inside is the same plate."""
    plates = _boxes([170, 300, 250, 330])  # centre (210, 315): outside the vehicle below

    class Cut:
        def detect(self, frame_bgr: np.ndarray) -> Detections:
            return _boxes([5, 100, 35, 130])  # frame (225, 300, 255, 330): the plate's right part

    looked = look_in_vehicles(Cut(), FRAME, plates, [(220.0, 200.0, 620.0, 500.0)], PlateLookSettings(margin=0.0))
    assert looked.plates is plates and (looked.vehicles, looked.found) == (1, 0)


def test_a_vehicle_that_held_no_plate_waits_longer_after_each_look() -> None:
    schedule = LookSchedule(0.5)
    assert schedule.due("v1", 10.0)
    schedule.looked("v1", 10.0, held=False)
    assert not schedule.due("v1", 10.4) and schedule.due("v1", 10.5)
    schedule.looked("v1", 10.5, held=False)  # 1 s now
    assert not schedule.due("v1", 11.4) and schedule.due("v1", 11.5)
    for _ in range(10):
        schedule.looked("v1", 100.0, held=False)
    assert not schedule.due("v1", 100.0 + MAX_BACKOFF_S - 1) and schedule.due("v1", 100.0 + MAX_BACKOFF_S)
    assert schedule.due("v2", 100.0), "each track its own"
    schedule.looked("v1", 200.0, held=True)  # a plate: at once again
    assert schedule.due("v1", 200.0) and len(schedule) == 0
    schedule.looked("v2", 200.0, held=False)
    schedule.forget(["v2"])
    assert len(schedule) == 0
    no_wait = LookSchedule(0.0)
    no_wait.looked("v1", 1.0, held=False)
    assert no_wait.due("v1", 1.0)


def test_boxes_partly_or_wholly_outside_the_frame_or_not_finite_are_looked_in_safely() -> None:
    detector = Recording()
    vehicles = [
        (float("nan"), 0.0, 300.0, 200.0),
        (-500.0, -500.0, -200.0, -100.0),  # wholly outside: nothing to crop
        (1200.0, 600.0, 1500.0, 900.0),  # partly outside: clipped to the frame
    ]
    looked = look_in_vehicles(detector, FRAME, Detections.empty(), vehicles, PlateLookSettings(margin=0.0))
    assert detector.shapes == [(120, 80, 3)] and looked.looked == (2,)
