"""Fits ``ocr.ensemble.calibration``: per member, a map of its mean confidence to P(read right).

    .venv/bin/python -m evaluate.calibration [-c config.yaml]     # settings + ALPR_* env, as alpr eval

Each member of ``ocr.ensemble.members`` reads the val sets of :mod:`evaluate.valsets` on its own
(once per crop, no variants); :func:`fit_calibration` fits ``(scale, shift)`` of
:func:`ocr.ensemble.calibrate` to whether each read is exact, on all val reads and on each half
(even / odd index of the crop in its set), so that a fit can be checked on the half it did not
see. No test split and no openalpr-us image is read.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from config.load import load_settings
from evaluate.metrics import is_exact
from ocr.registry import load_engine


def fit_calibration(confidences: Sequence[float], correct: Sequence[bool], ridge: float = 1e-3) -> tuple[float, float]:
    """``(scale, shift)`` of the logistic regression of ``correct`` on ``logit(confidence)``
    (confidences clipped to [1e-6, 1 - 1e-6]; ``ridge`` keeps the fit finite when every read is
    right or every read wrong). Both sequences have one entry per read.

    >>> fit_calibration([0.5, 0.5], [True, False])
    (0.0, 0.0)
    """
    if len(confidences) != len(correct) or len(correct) == 0:
        raise ValueError(f"fit_calibration: need one outcome per confidence, got {len(confidences)} and {len(correct)}")
    c = np.clip(np.asarray(confidences, dtype=np.float64), 1e-6, 1 - 1e-6)
    x = np.stack([np.log(c / (1 - c)), np.ones_like(c)], axis=1)  # (n, 2)
    y = np.asarray(correct, dtype=np.float64)

    def loss(w: np.ndarray) -> float:
        z = x @ w
        return float(np.sum(np.logaddexp(0, z) - y * z) + ridge / 2 * w @ w)

    w = np.array([1.0, 0.0])
    for _ in range(100):  # Newton's method with step halving on the penalised log-loss (convex)
        p = 0.5 * (1 + np.tanh(0.5 * (x @ w)))
        grad = x.T @ (p - y) + ridge * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while loss(w - t * step) > loss(w) and t > 1e-8:
            t /= 2
        w = w - t * step
        if np.abs(t * step).max() < 1e-10:
            break
    return round(float(w[0]), 6) + 0.0, round(float(w[1]), 6) + 0.0


def main(argv: list[str] | None = None) -> None:
    """``python -m evaluate.calibration``: one JSON object, member -> {all, even, odd: [scale, shift]}."""
    from evaluate.valsets import val_sets
    from training.data import DATA_ROOT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, action="append", help="Settings YAML (repeatable).")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    args = parser.parse_args(argv)
    settings = load_settings(*(args.config or [])).ocr
    sets = val_sets(args.data_root)
    out = {}
    for member in settings.ensemble.members:
        engine = load_engine(settings.model_copy(update={"type": member, "min_confidence": 0.0}))
        confidences: list[float] = []
        correct: list[bool] = []
        index: list[int] = []
        for images, labels in sets.values():
            reads = engine.read(images)
            confidences += [r.confidence for r in reads]
            correct += [is_exact(r.text, label) for r, label in zip(reads, labels, strict=True)]
            index += range(len(labels))
        halves = {"all": range(len(index))}
        halves |= {name: [k for k, i in enumerate(index) if i % 2 == rest] for name, rest in (("even", 0), ("odd", 1))}
        out[member] = {
            name: list(fit_calibration([confidences[k] for k in ks], [correct[k] for k in ks]))
            for name, ks in halves.items()
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
