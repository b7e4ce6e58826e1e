"""Real plate crops for the flow tests, cut from ``../shared/data/us-plates-ocr`` (read-only).

The data set is third-party (openalpr benchmarks, AGPL-3.0) and lives beside the repository;
tests that need it skip cleanly when it is absent.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import cv2

from operators.records import Box, PlateCrop
from tests.shared_data import require_data

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LabelledCrop:
    """A crop image (JPEG bytes) and its labelled plate text."""

    plate: str
    jpeg: bytes
    width: int
    height: int


@cache
def labelled_crops(limit: int = 12) -> tuple[LabelledCrop, ...]:
    """The first ``limit`` crops that the default OCR engine is known to read (plate labels != '0')."""
    folder = require_data("us-plates-ocr/labels.csv") / "us-plates-ocr"
    labels = folder / "labels.csv"
    out = []
    with labels.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["plate"] == "0":
                continue
            image = cv2.imread(str(folder / row["image"]))
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            out.append(LabelledCrop(row["plate"], buf.tobytes(), image.shape[1], image.shape[0]))
            if len(out) == limit:
                break
    return tuple(out)


def make_crop(
    jpeg: bytes,
    *,
    camera: str = "cam-1",
    track: str = "run1-1",
    index: int = 0,
    at: datetime = T0,
    quality: float = 0.5,
    site: str = "default",
) -> PlateCrop:
    """A PlateCrop as the edge would publish it."""
    return PlateCrop(
        camera_id=camera,
        site=site,
        track_id=track,
        crop_id=f"{camera}:{track}:{index}",
        frame_index=index,
        frame_ts=at,
        published_ts=at + timedelta(milliseconds=20),
        bbox=Box(100, 200, 120, 40),
        frame_width=1920,
        frame_height=1080,
        det_confidence=0.875,  # exact in Avro float32
        quality=quality,
        sharpness=120.0,
        image=jpeg,
    )
