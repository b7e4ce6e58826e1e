"""The synthetic renderer and the degradations: shapes, charset, determinism, no mutation."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.plate_rec import CHARSET
from training import augment
from training.synth import FORMATS, SynthPlate, fill_pattern, render_plate


@pytest.mark.parametrize("style", ["us", "eu", "br", "generic", "two_row"])
def test_render_gives_a_plate_image_and_its_rows(style):
    rng = np.random.default_rng(1)
    for _ in range(5):
        plate = render_plate(rng, style)
        h, w, c = plate.image.shape
        assert c == 3 and plate.image.dtype == np.uint8 and 60 <= h <= 240 and w > h
        assert len(plate.rows) == (2 if style == "two_row" else 1)
        assert plate.text and set(plate.text) <= set(CHARSET) - {"?"}
        assert plate.image.std() > 10  # something is drawn on the background


def test_render_is_deterministic_per_seed():
    a = render_plate(np.random.default_rng(7))
    b = render_plate(np.random.default_rng(7))
    assert a.rows == b.rows and np.array_equal(a.image, b.image)


@pytest.mark.parametrize(("pattern", "shape"), [("LLL DDDD", "LLL DDDD"), ("DD-LL", "DD-LL"), ("AAAA", "AAAA")])
def test_fill_pattern_keeps_the_shape(pattern, shape):
    text = fill_pattern(pattern, np.random.default_rng(0))
    assert len(text) == len(shape)
    for p, t in zip(pattern, text, strict=True):
        assert {"L": t.isalpha() and t.isupper(), "D": t.isdigit(), "A": t.isalnum()}.get(p, t == p)


def test_every_format_uses_known_symbols():
    for patterns in FORMATS.values():
        assert all(set(p) <= set("LDA -") for p in patterns)


def test_synth_plate_rejects_bad_rows():
    with pytest.raises(ValueError, match="rows"):
        SynthPlate(np.zeros((10, 20, 3), np.uint8), ("ab1",), "us")
    with pytest.raises(ValueError, match="image"):
        SynthPlate(np.zeros((10, 20), np.uint8), ("AB1",), "us")


@pytest.mark.parametrize("strong", [True, False])
def test_degrade_returns_a_new_bgr_image(strong):
    rng = np.random.default_rng(3)
    image = render_plate(rng, "us").image
    before = image.copy()
    for _ in range(10):
        out = augment.degrade(image, rng, strong)
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8 and min(out.shape[:2]) >= 8
    assert np.array_equal(image, before)
