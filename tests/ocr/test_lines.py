"""Text line finding with the wheel's text detector, and picking the plate's character rows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config.ocr import OcrSettings
from ocr.lines import load_line_finder, main_rows
from tests.ocr.test_preprocess import plate


@pytest.mark.parametrize(
    ("boxes", "rows"),
    [
        ([], []),
        ([(10, 40, 200, 50)], [(10, 40, 200, 50)]),
        # a thin state name above, a slogan below: only the characters remain
        ([(60, 5, 120, 15), (10, 40, 200, 50), (50, 100, 150, 12)], [(10, 40, 200, 50)]),
        # two words of one row merge; a second row of equal height stays apart, top first
        (
            [(120, 70, 80, 45), (10, 10, 80, 50), (110, 12, 90, 46), (10, 70, 90, 45)],
            [(10, 10, 190, 50), (10, 70, 190, 45)],
        ),
    ],
)
def test_main_rows(boxes, rows):
    assert main_rows(boxes) == rows


def test_line_finder_only_when_asked():
    assert load_line_finder(OcrSettings(rows="auto")) is None
    assert load_line_finder(OcrSettings(rows="detect")) is not None


def test_finds_the_rows_of_a_rendered_plate():
    finder = load_line_finder(OcrSettings(rows="detect"))
    image = np.full((150, 300, 3), 245, np.uint8)
    cv2.putText(image, "CALIFORNIA STATE", (40, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    cv2.putText(image, "7ABC123", (15, 105), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 6)
    ((x, y, w, h),) = main_rows(finder.boxes(image))
    assert 50 <= y <= 65 and 100 <= y + h <= 125 and x <= 20 and x + w >= 260
    two = main_rows(finder.boxes(plate(["AB12", "CD34"], width=220)))
    assert len(two) == 2 and two[0][1] < two[1][1]


@pytest.mark.parametrize("rows", ["detect", "both"])
def test_engine_reads_with_detected_lines(rows):
    from ocr.registry import load_engine

    engine = load_engine(OcrSettings(rows=rows))
    one, two, blank = engine.read(
        [plate(["ABC1234"]), plate(["AB12", "CD34"], width=220), np.full((40, 90, 3), 255, np.uint8)]
    )
    assert one.text.replace(" ", "") == "ABC1234"
    assert two.text == "AB12 CD34"
    assert blank.text == ""
