"""Which read of a whole image is scored against its labelled plate."""

from __future__ import annotations

import pytest

from evaluate.pipeline import ImageRead, PlateText
from evaluate.run import labelled_read

LABEL_BOX = (100.0, 100.0, 80.0, 40.0)
ON_LABEL = (102.0, 101.0, 78.0, 38.0)  # IoU ~0.93 with the labelled box
ELSEWHERE = (400.0, 300.0, 80.0, 40.0)  # another car's plate


def _image(*detections: tuple[tuple[float, float, float, float], str, float]) -> ImageRead:
    reads = tuple(PlateText(text, text, conf) for _, text, conf in detections)
    best = max(reads, key=lambda r: r.confidence, default=PlateText("", "", 0.0))
    return ImageRead(best, tuple(box for box, _, _ in detections), reads, 10.0)


@pytest.mark.parametrize(
    ("detections", "label", "expected", "detected"),
    [
        # The labelled plate read right while another plate is read more confidently.
        (((ON_LABEL, "ABC123", 0.80), (ELSEWHERE, "XYZ999", 0.99)), "ABC123", "ABC123", True),
        # Misread on the labelled box: its read is scored, not the other car's.
        (((ON_LABEL, "ABC128", 0.80), (ELSEWHERE, "XYZ999", 0.99)), "ABC123", "ABC128", True),
        # Right read from a loose box (IoU below 0.4): exact, not detected.
        ((((90.0, 80.0, 160.0, 90.0), "ABC123", 0.9),), "ABC123", "ABC123", False),
        # Nothing on the labelled box: the most confident read (something else) is scored.
        (((ELSEWHERE, "XYZ999", 0.99), ((500.0, 50.0, 60.0, 30.0), "Q1", 0.5)), "ABC123", "XYZ999", False),
        # No detection at all.
        ((), "ABC123", "", False),
    ],
)
def test_labelled_read(detections, label, expected, detected) -> None:
    read, best_iou = labelled_read(_image(*detections), LABEL_BOX, label)
    assert read.plate == expected
    assert (best_iou > 0.4) is detected
