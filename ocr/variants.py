"""Test-time variants: one engine reads each crop several ways and the reads vote.

A cheap engine (plate_rec, 1.6 ms per crop) misreads a crop differently when its margins,
width or colours change a little; the text most variants agree on is more often right than the
read of the crop as it is. :data:`VARIANTS` names the pure crop transforms (BGR uint8 in and
out; none modifies its input); :func:`vote` keeps one of the variants' reads;
:class:`VotingReader` wraps an engine. The ensemble wraps the members named in
``ocr.ensemble.variants`` (opt-in; docs/accuracy.md "Test-time variants of plate_rec").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import get_args

import cv2
import numpy as np

from config.ocr import Variant
from ocr.base import OcrEngine, OcrError, OcrResult
from ocr.preprocess import as_bgr, pad
from operators.normalise import compact


def crop_in(image: np.ndarray, fraction: float) -> np.ndarray:
    """``(h, w, 3)`` -> the crop without ``fraction`` of its height (top and bottom) and width
    (left and right); a copy."""
    h, w = image.shape[:2]
    dy, dx = round(h * fraction), round(w * fraction)
    return image[dy : h - dy, dx : w - dx].copy()


def widen(image: np.ndarray, factor: float) -> np.ndarray:
    """``(h, w, 3)`` -> ``(h, round(factor * w), 3)``: characters made wider or narrower."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * factor)), h), interpolation=cv2.INTER_LINEAR)


def grey(image: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` BGR -> the same shape in grey (colour dropped, three equal channels)."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def stretch(image: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """``(h, w, 3)`` -> the same shape with the ``low``-``high`` percentile range stretched to
    0-255 (contrast normalisation); a flat crop is returned as a copy."""
    lo, hi = np.percentile(image, (low, high))
    if hi - lo < 1:
        return image.copy()
    return np.clip(np.rint((image.astype(np.float32) - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


# name (config.ocr.Variant) -> transform of a BGR uint8 crop.
VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as_is": lambda image: image,
    "pad_5": lambda image: pad(image, 0.05),
    "pad_10": lambda image: pad(image, 0.10),
    "crop_3": lambda image: crop_in(image, 0.03),
    "crop_6": lambda image: crop_in(image, 0.06),
    "narrow_10": lambda image: widen(image, 0.9),
    "wide_12": lambda image: widen(image, 1.12),
    "grey": grey,
    "stretch": stretch,
}
# The best set for plate_rec in the ensemble on val splits (one variant of each kind: margin out,
# margin in, width, colour); not the default: it lost 3 openalpr-us images (docs/accuracy.md).
PLATE_REC_VAL_CHOICE = ("as_is", "pad_5", "crop_3", "narrow_10", "grey")

if set(VARIANTS) != set(get_args(Variant)):
    raise OcrError(f"ocr.variants: transforms {sorted(VARIANTS)} differ from the settings' {sorted(get_args(Variant))}")


def vote(reads: Sequence[OcrResult]) -> OcrResult:
    """The read of the text (compact) that most reads give; ties go to the text with the most
    confident read. The most confident read of that text is returned as it is."""
    if not reads:
        return OcrResult.empty()
    groups: dict[str, list[OcrResult]] = {}
    for read in reads:
        groups.setdefault(compact(read.text), []).append(read)
    winner = max(groups.values(), key=lambda g: (len(g), max(r.confidence for r in g)))
    return max(winner, key=lambda r: r.confidence)


class VotingReader:
    """Reads every batch once per variant with one engine and votes per crop (:func:`vote`)."""

    def __init__(self, engine: OcrEngine, variants: Sequence[str]) -> None:
        unknown = [v for v in variants if v not in VARIANTS]
        if not variants or unknown:
            raise OcrError(f"ocr.ensemble.variants: need known variant names, got {list(variants)}")
        self._engine = engine
        self._transforms = [VARIANTS[v] for v in variants]

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """One voted result per crop, in order; unreadable crops go to the engine unchanged."""
        crops = [as_bgr(image) for image in images]
        per_variant = []
        for transform in self._transforms:
            varied = [image if crop is None else transform(crop) for image, crop in zip(images, crops, strict=True)]
            per_variant.append(self._engine.read(varied))
        return [vote(reads) for reads in zip(*per_variant, strict=True)]
