"""Vehicle colour: the body-region method on synthetic cars, and its measured accuracy on the labelled set."""

from __future__ import annotations

import numpy as np
import pytest

from edge.colour import COLOURS, body_region, vehicle_colour, white_balance
from evaluate.colours import LABELS, measure
from tests.shared_data import require_data

BOX = (100.0, 100.0, 300.0, 250.0)


def _car(bgr: tuple[int, int, int], background: tuple[int, int, int] = (90, 110, 100)) -> np.ndarray:
    """A frame with a flat-coloured car box, windows (dark, top) and wheels (dark, bottom)."""
    frame = np.zeros((400, 500, 3), np.uint8)
    frame[:] = background
    x1, y1, x2, y2 = (int(v) for v in BOX)
    frame[y1:y2, x1:x2] = bgr
    frame[y1 : y1 + 40, x1 + 20 : x2 - 20] = (20, 20, 20)  # windscreen
    frame[y2 - 20 : y2, x1 : x1 + 40] = (10, 10, 10)  # wheel
    return frame


@pytest.mark.parametrize(
    ("bgr", "name"),
    [
        ((30, 30, 200), "red"),
        ((200, 60, 20), "blue"),
        ((40, 200, 230), "yellow"),
        ((40, 160, 40), "green"),
        ((245, 245, 245), "white"),
        ((25, 25, 25), "black"),
        ((140, 140, 140), "grey"),
        ((20, 50, 90), "brown"),
    ],
)
def test_flat_paint_is_named(bgr: tuple[int, int, int], name: str) -> None:
    assert vehicle_colour(_car(bgr), BOX) == name
    assert name in COLOURS


def test_a_colour_cast_of_the_whole_frame_is_balanced_away() -> None:
    frame = _car((150, 140, 140), background=(170, 120, 110))  # grey car under a blue cast
    assert vehicle_colour(frame, BOX) == "grey"
    gains = white_balance(frame)
    assert gains.shape == (3,) and gains[0] < 1 < gains[2]


def test_region_is_the_body_and_tiny_boxes_give_none() -> None:
    frame = _car((30, 30, 200))
    region = body_region(frame, BOX)
    assert region.shape == (45, 120, 3) and np.all(region == (30, 30, 200))
    assert vehicle_colour(frame, (10, 10, 12, 12)) is None
    assert vehicle_colour(frame, (450, 380, 900, 900)) is None  # clipped to almost nothing
    before = frame.copy()
    vehicle_colour(frame, BOX)
    assert np.array_equal(frame, before), "input untouched"


def test_labelled_set_accuracy_floors() -> None:
    """The 98 labelled openalpr-us vehicles (docs/vehicles.md): floors below the measured figures."""
    data = require_data("openalpr-us/labels.csv") / "openalpr-us"
    report = measure(data, LABELS)
    assert report["n"] == 98
    assert report["accuracy_all"] >= 0.55, report
    assert report["chromatic_vs_not_all"] >= 0.85, report
