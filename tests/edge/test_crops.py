"""Crop geometry, sharpness, quality score and the per-slice selection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config.edge import CropSettings
from edge.crops import CropCandidate, CropSelector, encode_jpeg, pad_box, quality_score, sharpness


@pytest.mark.parametrize(
    ("box", "pad", "size", "expected"),
    [
        ((10, 10, 20, 20), 0.0, (100, 100), (10, 10, 20, 20)),
        ((10, 10, 20, 20), 0.5, (100, 100), (5, 5, 25, 25)),
        ((0, 0, 20, 10), 0.5, (100, 100), (0, 0, 30, 15)),  # clipped at the top-left
        ((90, 90, 100, 100), 1.0, (100, 100), (80, 80, 100, 100)),  # clipped at the bottom-right
        ((10.4, 10.6, 19.2, 19.9), 0.0, (100, 100), (10, 10, 20, 20)),  # outward rounding
    ],
)
def test_pad_box(box, pad, size, expected) -> None:
    assert pad_box(box, pad, *size) == expected


def test_sharpness_prefers_sharp_crops() -> None:
    rng = np.random.default_rng(0)
    sharp = (rng.random((40, 120, 3)) * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(sharp, (9, 9), 3)
    assert sharpness(sharp) > 5 * sharpness(blurred) > 0
    assert sharpness(np.zeros((0, 0, 3), np.uint8)) == 0.0
    assert sharpness(np.full((10, 10, 3), 7, np.uint8)) == 0.0


def test_quality_orders_crops_sensibly() -> None:
    w, h = 1280, 720
    good = quality_score((500, 300, 620, 340), 0.9, 400.0, w, h)
    assert 0 < good <= 1
    assert quality_score((500, 300, 620, 340), 0.9, 20.0, w, h) < good, "blurrier"
    assert quality_score((500, 300, 530, 310), 0.9, 400.0, w, h) < good, "smaller"
    assert quality_score((500, 300, 620, 340), 0.3, 400.0, w, h) < good, "less confident"
    assert quality_score((500, 300, 540, 340), 0.9, 400.0, w, h) < good, "square, not plate-shaped"
    assert quality_score((0, 300, 120, 340), 0.9, 400.0, w, h) < good, "touching the frame edge"


def test_encode_jpeg_roundtrip() -> None:
    crop = np.full((30, 90, 3), 100, np.uint8)
    data = encode_jpeg(crop, 90)
    assert data[:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == crop.shape


def _cand(track: str, index: int, ts: float, q: float) -> CropCandidate:
    return CropCandidate(track, index, ts, (0, 0, 10, 5), 0.9, q, 1.0, 100, 100, np.zeros((5, 10, 3), np.uint8))


def test_selector_releases_best_per_slice_then_the_rest_on_close() -> None:
    sel = CropSelector(CropSettings(per_slice=2, slice_s=1.0))
    released = []
    for i, (ts, q) in enumerate([(0.0, 0.2), (0.3, 0.9), (0.5, 0.5), (0.9, 0.7), (1.1, 0.1), (1.5, 0.3)]):
        released += sel.offer(_cand("t1", i, ts, q))
    assert [c.quality for c in released] == [0.9, 0.7], "slice 0: two best, best first"
    assert sel.open_tracks() == ["t1"]
    assert [c.quality for c in sel.close("t1")] == [0.3, 0.1]
    assert sel.close("t1") == [] and sel.open_tracks() == []


def test_selector_keeps_tracks_apart_and_slices_from_track_start() -> None:
    sel = CropSelector(CropSettings(per_slice=1, slice_s=2.0))
    assert sel.offer(_cand("a", 0, 10.0, 0.5)) == []
    assert sel.offer(_cand("b", 1, 11.5, 0.4)) == []
    assert sel.offer(_cand("b", 2, 13.0, 0.6)) == [], "b started at 11.5: still in its first slice"
    assert [c.frame_index for c in sel.offer(_cand("a", 3, 12.0, 0.1))] == [0]
    assert [c.frame_index for c in sel.close("b")] == [2]
