"""Fitting ``ocr.ensemble.calibration`` (pure) and ``python -m evaluate.calibration``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import evaluate.valsets
from evaluate.calibration import fit_calibration, main
from ocr.base import OcrResult
from ocr.ensemble import calibrate
from ocr.registry import ENGINES


@pytest.mark.parametrize(("scale", "shift"), [(1.0, 0.0), (0.69, -1.9), (2.0, 1.0), (0.3, 0.5)])
def test_fit_recovers_the_map_the_outcomes_were_drawn_from(scale, shift):
    rng = np.random.default_rng(0)
    confidences = rng.uniform(0.01, 0.999, 20_000)
    correct = rng.uniform(size=confidences.size) < [calibrate(c, scale, shift) for c in confidences]
    got = fit_calibration(confidences, correct)
    assert got == pytest.approx((scale, shift), abs=0.1)


@pytest.mark.parametrize(
    ("confidences", "correct", "check"),
    [
        # No information in the confidence: an even chance.
        ((0.5, 0.5), (True, False), lambda s, b: (s, b) == (0.0, 0.0)),
        ((0.2, 0.9, 0.2, 0.9), (True, False, False, True), lambda s, b: abs(s) < 1e-6 and abs(b) < 1e-6),
        # Separable or one-sided outcomes stay finite (ridge).
        ((0.1, 0.2, 0.8, 0.9), (False, False, True, True), lambda s, b: 0 < s < 1e3),
        ((0.0, 1.0, 1.0), (True, True, True), lambda s, b: np.isfinite(s) and calibrate(0.5, s, b) > 0.5),
    ],
)
def test_fit_edge_cases(confidences, correct, check):
    assert check(*fit_calibration(confidences, correct))


@pytest.mark.parametrize(("confidences", "correct"), [((), ()), ((0.5,), (True, False))])
def test_fit_needs_one_outcome_per_confidence(confidences, correct):
    with pytest.raises(ValueError, match="one outcome per confidence"):
        fit_calibration(confidences, correct)


def test_main_fits_every_member_on_all_and_each_half(monkeypatch, tmp_path, capsys):
    images = [np.zeros((4, 4, 3), np.uint8)] * 4
    labels = ["AB1", "AB2", "AB3", "AB4"]
    monkeypatch.setattr(evaluate.valsets, "val_sets", lambda root: {"s": (images, labels)})

    def member(text, conf):
        return lambda settings: type("E", (), {"read": lambda self, ims: [OcrResult(text, conf)] * len(ims)})()

    monkeypatch.setitem(ENGINES, "one", member("AB1", 0.9))
    monkeypatch.setitem(ENGINES, "two", member("XX", 0.2))
    config = tmp_path / "c.yaml"
    config.write_text("ocr:\n  type: ensemble\n  ensemble:\n    members: [one, two]\n", encoding="utf-8")
    main(["-c", str(config), "--data-root", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"one", "two"}
    assert all(set(fits) == {"all", "even", "odd"} for fits in out.values())
    # "one" is right on crop 0 only (even half), "two" never.
    assert calibrate(0.9, *out["one"]["even"]) > calibrate(0.9, *out["one"]["odd"])
    assert calibrate(0.2, *out["two"]["all"]) < 0.5
