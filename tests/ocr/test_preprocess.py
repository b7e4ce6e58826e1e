"""Crop preprocessing: validation, padding, side bands, text rows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.preprocess import as_bgr, pad, row_layouts, strip_side_band, to_input


def plate(lines: list[str], width: int = 320, row_height: int = 70, band: bool = False) -> np.ndarray:
    """A white plate with black text rows (and optionally a blue band at the left)."""
    image = np.full((row_height * len(lines) + 20, width, 3), 245, np.uint8)
    x0 = 20
    if band:
        image[:, :36] = (160, 40, 20)  # BGR blue
        x0 = 50
    for i, text in enumerate(lines):
        cv2.putText(image, text, (x0, 10 + row_height * (i + 1) - 12), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 5)
    return image


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "not an array",
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((3, 40, 3), np.uint8),
        np.zeros((20, 40, 3), np.float32),
        np.zeros((20, 40, 2), np.uint8),
        np.zeros((2, 20, 40, 3), np.uint8),
    ],
)
def test_as_bgr_rejects_unreadable_crops(bad):
    assert as_bgr(bad) is None


@pytest.mark.parametrize("shape", [(20, 40), (20, 40, 1), (20, 40, 3), (20, 40, 4)])
def test_as_bgr_converts_to_three_channels(shape):
    out = as_bgr(np.full(shape, 7, np.uint8))
    assert out is not None and out.shape == (20, 40, 3) and out.dtype == np.uint8


def test_pad_grows_each_side_and_keeps_input():
    image = np.arange(20 * 40 * 3, dtype=np.uint8).reshape(20, 40, 3)
    before = image.copy()
    assert pad(image, 0.1).shape == (24, 48, 3)
    assert pad(image, 0.0) is image
    assert np.array_equal(image, before)


def test_to_input_shape_range_and_width_cap():
    image = np.full((10, 400, 3), 255, np.uint8)
    tensor = to_input(image, 48, 12.0)
    assert tensor.shape == (3, 48, 576) and tensor.dtype == np.float32
    assert tensor.max() == pytest.approx(1.0)
    assert to_input(np.zeros((48, 96, 3), np.uint8), 48, 12.0).shape == (3, 48, 96)


def test_strip_side_band_cuts_a_blue_band_only():
    with_band = plate(["1234BCD"], width=360, band=True)
    stripped = strip_side_band(with_band)
    assert 30 <= with_band.shape[1] - stripped.shape[1] <= 40
    plain = plate(["1234BCD"], width=360)
    assert strip_side_band(plain) is plain


def test_strip_side_band_keeps_blue_characters():
    image = np.full((90, 320, 3), 245, np.uint8)
    cv2.putText(image, "NEV326", (5, 70), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (160, 40, 20), 7)
    assert strip_side_band(image) is image


def test_first_layout_is_the_text_band_as_one_line():
    image = plate(["ABC1234"])  # text spans rows ~24..68 of 90
    layouts = row_layouts(image)
    assert len(layouts[0]) == 1
    top, bottom = layouts[0][0]
    assert top <= 24 and bottom >= 68 and bottom - top < image.shape[0]


def test_thin_bands_above_and_below_are_dropped():
    image = np.full((150, 300, 3), 245, np.uint8)
    cv2.putText(image, "CALIFORNIA STATE", (40, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    cv2.putText(image, "7ABC123", (15, 105), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 6)
    cv2.putText(image, "dmv.ca.gov", (100, 140), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    top, bottom = row_layouts(image)[0][0]
    assert 25 <= top <= 60 and 105 <= bottom <= 128


def test_two_row_plate_offers_a_two_row_layout():
    image = plate(["AB12", "CD34"], width=220)
    layouts = row_layouts(image)
    assert len(layouts) == 2
    (top_a, bottom_a), (top_b, bottom_b) = layouts[1]
    assert top_a < top_b < bottom_a < bottom_b or bottom_a <= top_b
    assert bottom_a < image.shape[0] * 0.75 and top_b > image.shape[0] * 0.25
