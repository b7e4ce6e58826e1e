"""Vehicle make and model: a plug-in point. **No make/model model is shipped.**

No make/model classifier with weights we may redistribute could be had here (the public ones are
trained on Stanford Cars or CompCars, whose terms allow non-commercial research use only), so events carry
``vehicle_make`` and ``vehicle_model`` as null unless a classifier is plugged in:

1. write a class with ``classify(crop_bgr) -> MakeModel | None`` (the crop is the vehicle's best
   box, BGR uint8 (h, w, 3)), built from :class:`~config.edge.VehicleSettings`;
2. register it: ``CLASSIFIERS["my_cars"] = MyCars`` (e.g. in a module imported by your launcher);
3. set ``edge.vehicles.make_model: my_cars`` (and ``make_model_path`` to its weights).

The edge calls it once per vehicle track, on the best crop when the track's first plate crop or
its no-plate event is published, and puts the answer on the records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from config.edge import VehicleSettings

__all__ = ["CLASSIFIERS", "ClassifierError", "MakeModel", "VehicleClassifier", "load_classifier"]


class ClassifierError(RuntimeError):
    """A make/model classifier could not be loaded (unknown name, bad weights)."""


@dataclass(frozen=True, slots=True)
class MakeModel:
    """A classifier's answer: make (e.g. ``Toyota``), model (``Corolla``, or None) and confidence 0..1."""

    make: str
    model: str | None
    confidence: float

    def __post_init__(self) -> None:
        if not self.make:
            raise ValueError("MakeModel.make is empty")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"MakeModel.confidence must be in [0, 1], got {self.confidence}")


class VehicleClassifier(Protocol):
    """Anything that names the make/model of a vehicle crop (BGR (h, w, 3) uint8)."""

    def classify(self, crop_bgr: np.ndarray) -> MakeModel | None: ...


#: Classifier name (``edge.vehicles.make_model``) -> factory. Empty: none is shipped.
CLASSIFIERS: dict[str, Callable[[VehicleSettings], VehicleClassifier]] = {}


def load_classifier(settings: VehicleSettings) -> VehicleClassifier | None:
    """The classifier named by ``settings.make_model``, or None when none is configured."""
    if settings.make_model is None:
        return None
    factory = CLASSIFIERS.get(settings.make_model)
    if factory is None:
        known = ", ".join(sorted(CLASSIFIERS)) or "none registered; no make/model model is shipped"
        raise ClassifierError(f"edge.vehicles.make_model {settings.make_model!r} unknown ({known})")
    return factory(settings)
