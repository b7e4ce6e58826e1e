"""Deskewing: the skew of a rotated plate is found and undone; level and blank crops stay."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.base import OcrResult
from ocr.deskew import (
    DeskewingReader,
    _best_angle,
    _edges,
    _rotation_matrix,
    _shear_matrix,
    deskew,
    rotate,
    shear_angle,
    skew_angle,
    unshear,
)


def plate(text: str = "ABC 1234", rows: int = 1) -> np.ndarray:
    """A white plate with black characters and a dark border, BGR uint8."""
    image = np.full((60 * rows + 20, 260, 3), 235, np.uint8)
    cv2.rectangle(image, (3, 3), (256, image.shape[0] - 4), (40, 40, 40), 2)
    for r in range(rows):
        cv2.putText(image, text, (18, 55 + 60 * r), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 4)
    return image


@pytest.mark.parametrize("angle", [-12.0, -7.0, -3.0, 0.0, 4.0, 9.0, 13.0])
@pytest.mark.parametrize("rows", [1, 2])
def test_the_skew_of_a_rotated_plate_is_found(angle, rows):
    tilted = rotate(plate(rows=rows), angle)
    assert skew_angle(tilted) == pytest.approx(-angle, abs=1.0)


@pytest.mark.parametrize("rows", [1, 2])
def test_the_coarse_to_fine_search_finds_the_exhaustive_searchs_angle(rows):
    # Every whole angle in range, and angles between the coarse steps: 15 warps give what 31 do.
    for tilt in [*range(-15, 16), -7.5, 4.4]:
        edges = _edges(rotate(plate(rows=rows), float(tilt)), 0, 1)
        exhaustive = _best_angle(edges, _rotation_matrix, 1, 15.0, 1.0, coarse=1)
        assert _best_angle(edges, _rotation_matrix, 1, 15.0, 1.0) == exhaustive, tilt
        assert exhaustive == pytest.approx(-tilt, abs=1.0)


def test_ties_keep_the_smallest_angle():
    flat = np.zeros((64, 200), np.float32)  # every angle scores 0: the crop stays as it is
    assert _best_angle(flat, _rotation_matrix, 1, 15.0, 1.0) == 0.0
    assert _best_angle(flat, _shear_matrix, 0, 20.0, 2.0) == 0.0


def test_deskewing_levels_the_rows():
    level = plate()
    fixed = deskew(rotate(level, 8.0))
    assert abs(skew_angle(fixed)) <= 1.0
    assert fixed.shape == level.shape and fixed.dtype == np.uint8


@pytest.mark.parametrize("lean", [-16.0, -8.0, 0.0, 6.0, 12.0])
def test_the_lean_of_sheared_characters_is_found_and_undone(lean):
    leaning = unshear(plate(), lean)
    assert shear_angle(leaning) == pytest.approx(-lean, abs=2.0)
    upright = deskew(leaning, shear_min_deg=4.0)
    assert abs(shear_angle(upright)) <= 2.0


def test_no_shear_step_unless_asked():
    leaning = unshear(plate(), 12.0)
    assert deskew(leaning) is leaning  # level rows, shear off by default


def test_small_skews_blank_and_odd_crops_are_left_as_they_are():
    slight = rotate(plate(), 1.0)
    assert deskew(slight, min_deg=2.0) is slight
    blank = np.full((40, 120, 3), 128, np.uint8)
    assert skew_angle(blank) == 0.0 and shear_angle(blank) == 0.0
    assert deskew(blank, shear_min_deg=4.0) is blank
    tiny = np.zeros((2, 3, 3), np.uint8)
    assert deskew(tiny) is tiny
    floats = np.zeros((40, 120, 3), np.float32)
    assert deskew(floats) is floats


class Recorder:
    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def read(self, images):
        self.seen = list(images)
        return [OcrResult.empty() for _ in images]


def test_the_reader_deskews_each_crop_and_keeps_order():
    inner = Recorder()
    crops = [rotate(plate(), 10.0), plate(), np.zeros((0, 0, 3), np.uint8), None, "not an image"]
    out = DeskewingReader(inner, min_deg=2.0, max_deg=15.0).read(crops)
    assert len(out) == 5
    assert abs(skew_angle(inner.seen[0])) <= 1.0
    assert all(seen is crop for seen, crop in zip(inner.seen[1:], crops[1:], strict=True))  # to the engine as they are


def test_the_ensemble_deskews_once():
    from config.ocr import OcrSettings
    from ocr.deskew import DeskewingReader as Wrapper
    from ocr.registry import load_engine

    engine = load_engine(OcrSettings(type="ensemble"))
    assert isinstance(engine, Wrapper)
    members = engine._engine._members  # noqa: SLF001 - the wiring is what is tested
    assert not any(isinstance(m, Wrapper) for m in members)
    assert not isinstance(load_engine(OcrSettings(type="plate_rec", deskew={"enabled": False})), Wrapper)
