"""The European band at a plate's left: found on drawn plates and on real crops, and what it weighs."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from operators.plate_band import BAND_SHARE, Band, band_scales, find_band
from tests.operators.builders import BLUE, YELLOW
from tests.operators.builders import drawn_plate as plate
from tests.shared_data import require_data


def test_a_blue_band_on_a_white_or_yellow_plate_is_found():
    assert find_band(plate()) is Band.PRESENT
    assert find_band(plate(YELLOW)) is Band.PRESENT  # Dutch rear plates


def test_a_plate_without_a_band_has_none():
    assert find_band(plate(band=None, around=(50, 50, 160))) is Band.ABSENT  # on a red car
    assert find_band(plate(band=None, text=BLUE)) is Band.ABSENT  # blue characters are not a band


@pytest.mark.parametrize("car", [(50, 50, 160), (60, 120, 60), (0, 200, 255)], ids=["red", "green", "yellow"])
def test_a_band_beside_a_car_of_another_colour_is_found(car):
    """The car's body left of the plate and the band are two runs of colour, not one too wide."""
    assert find_band(plate(around=car)) is Band.PRESENT
    assert find_band(plate(band=None, around=car)) is Band.ABSENT


def test_a_car_of_the_band_s_colour_around_the_plate_is_not_a_band():
    assert find_band(plate(band=None, around=BLUE)) is Band.ABSENT


def test_hue_does_not_matter_only_the_difference_to_the_plate():
    tinted = plate(background=(200, 160, 230), band=(40, 160, 40))  # a pink frame, a green band
    assert find_band(tinted) is Band.PRESENT


def test_a_grey_or_tiny_or_missing_crop_says_nothing():
    grey = cv2.cvtColor(cv2.cvtColor(plate(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert find_band(grey) is Band.UNKNOWN  # infrared at night: a band would look like a frame
    assert find_band(plate(band=None)) is Band.UNKNOWN  # nothing coloured in sight
    assert find_band(plate()[:10, :30]) is Band.UNKNOWN
    assert find_band(None) is Band.UNKNOWN
    assert find_band(np.zeros((40, 120), np.uint8)) is Band.UNKNOWN  # not BGR


def test_any_shape_or_content_gives_an_answer_and_a_large_crop_the_same_one():
    rng = np.random.default_rng(0)
    for h, w in [(12, 40), (13, 5000), (2000, 40), (40, 41), (500, 700)]:
        assert find_band(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) in set(Band)
    assert find_band(np.zeros((60, 200, 3), np.uint8)) is Band.UNKNOWN  # black
    large = cv2.resize(plate(), None, fx=12, fy=12, interpolation=cv2.INTER_NEAREST)
    assert find_band(large) is Band.PRESENT


def test_what_was_seen_weighs_the_countries_that_carry_a_band_against_those_that_do_not():
    countries = ("US", "GB", "NL")
    assert band_scales(Band.UNKNOWN, countries) == {}
    seen = band_scales(Band.PRESENT, countries)
    assert seen["NL"] > seen["GB"] > seen["US"] > 0
    assert seen["NL"] / seen["US"] > 10
    unseen = band_scales(Band.ABSENT, countries)
    assert unseen["US"] > unseen["GB"] > unseen["NL"] > 0
    assert set(BAND_SHARE) >= {"DE", "FR", "NL", "ES", "IT", "PL"}


def _outcomes(folder: str, *, where: dict[str, str] | None = None, limit: int = 400) -> list[Band]:
    root = require_data(f"{folder}/labels.csv") / folder
    rows = [r for r in csv.DictReader((root / "labels.csv").open()) if all(r[k] == v for k, v in (where or {}).items())]
    return [find_band(cv2.imread(str(root / r["image"]))) for r in rows[:limit]]


@pytest.mark.parametrize(
    ("folder", "where", "least", "most"),
    [
        # Spanish plates, every one with the band (the set tints whole frames: hue differs crop to crop).
        ("uc3m-ocr", {"lighting": "day"}, 0.64, 1.0),
        # US plates, none with it: coloured graphics and characters must not pass for one.
        ("us-plates-ocr", None, 0.0, 0.03),
    ],
)
def test_on_real_crops_the_band_is_found_where_there_is_one_and_rarely_elsewhere(folder, where, least, most):
    found = _outcomes(folder, where=where)
    share = sum(b is Band.PRESENT for b in found) / len(found)
    assert least <= share <= most, f"{folder}: band found on {share:.3f} of {len(found)} crops"
