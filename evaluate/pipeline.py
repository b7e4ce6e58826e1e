"""The product's reading path, as `alpr eval` runs it: detect -> crop -> OCR -> normalise.

Every step is the product's own code: the edge's detector (``edge.detect.load_detector``) and
crop padding (``edge.crops.pad_box``), the configured OCR engine decoding under the enabled plate
formats (``ocr.syntax.load_reader``),
and the flow's normaliser and format validator (``operators.validate.PlateValidator``). A read
that fits no enabled format is kept in compact form (the flow would file it under
``rejected_reads``; scoring it as empty would hide what the reader saw).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from config.edge import PlateLookSettings
from config.settings import Settings
from ocr.band import look_for_band
from ocr.base import OcrEngine, OcrResult
from operators.normalise import compact
from operators.plate_band import Band
from operators.traffic_mix import Traffic, learn_plate
from operators.validate import PlateValidator


@dataclass(frozen=True, slots=True)
class PlateText:
    """A normalised read: the plate, the engine's raw text, its confidence, and the region and
    format of the plate (None when it fits no enabled format)."""

    plate: str
    raw: str
    confidence: float
    region: str | None = None
    format_name: str | None = None


@dataclass(frozen=True, slots=True)
class ImageRead:
    """What the product reads in one image: the chosen plate, every detection, and the time."""

    best: PlateText
    boxes: tuple[tuple[float, float, float, float], ...]  # (x, y, w, h) of each detection
    reads: tuple[PlateText, ...]  # one per detection, same order
    ms: float
    vehicles: tuple[tuple[float, float, float, float], ...] | None = None  # (x1, y1, x2, y2); None: stage off


def detector_name(settings: Settings) -> str:
    """The plate detector's model file name, or ``default`` for the edge's shipped choice."""
    model = settings.edge.detector.model
    return model.name if model is not None else "default (edge: int8 on CPU, float32 on CUDA)"


class Normaliser:
    """OCR text -> plate, as the flow's validate step does it (format-aware confusion fixes), and
    its region as the ``region`` step does: the reads so far are one site's (the folder's)."""

    def __init__(self, validator: PlateValidator | None) -> None:
        self._validator = validator
        self._traffic: Traffic | None = None  # the folder is one site: its reads' mix of countries
        self._bands: Counter[str] = Counter()  # what the crops of its plate reads showed of a European band

    @property
    def traffic(self) -> Traffic | None:
        """What the reads so far taught of the folder's mix of countries (None: nothing yet)."""
        return self._traffic

    @property
    def bands(self) -> dict[str, int] | None:
        """Plate reads so far by what their crop showed of a European band (present, absent,
        unknown), among those where it could change the region; None where no band is looked for."""
        return dict(self._bands) if self._validator is not None and self._validator.sees_band else None

    @classmethod
    def from_settings(cls, settings: Settings, fix_formats: bool = True) -> Normaliser:
        """The flow's validator built from ``settings.flow.plates``; ``fix_formats=False``: compact only."""
        if not fix_formats:
            return cls(None)
        return cls(PlateValidator.from_settings(settings.flow.plates, decoded=settings.ocr.syntax.enabled))

    def __call__(self, result: OcrResult, crop: np.ndarray | None = None) -> PlateText:
        """The normalised plate of one engine result (``crop``: the image it read, for the band
        of European plates, as the edge looks: :func:`ocr.band.look_for_band`)."""
        plate = compact(result.text)
        if self._validator is not None and plate:
            match = self._validator.match(plate)
            if match is not None:
                band = Band.UNKNOWN
                if self._validator.band_matters(match.plate):
                    band = look_for_band(crop)
                    self._bands[band.value] += 1
                self._traffic, region, name = learn_plate(
                    self._validator, self._traffic, match.plate, match.region, match.format_name, band
                )
                return PlateText(match.plate, result.text, result.confidence, region, name)
        return PlateText(plate, result.text, result.confidence)

    def format_of(self, label: str) -> str | None:
        """What the label fits as it is (no fixes): its region and shape (``L`` letter, ``N``
        digit), e.g. ``US-CA NLLLNNN``, ``US NNNLLL`` (a series of several states), ``? LLNNNLL``
        (formats of several countries); None when no enabled format holds it."""
        if self._validator is None or "?" in label:
            return None
        match = self._validator.match(label)
        if match is None or match.fixes or match.plate != compact(label):
            return None
        shape = "".join("N" if c.isdigit() else "L" for c in match.plate)
        return f"{match.region or '?'} {shape}"


class _Normalised:
    """What a reader's :class:`Normaliser` knows of the folder, for the report."""

    _normalise: Normaliser

    def format_of(self, label: str) -> str | None:
        """The enabled format a label fits (:meth:`Normaliser.format_of`)."""
        return self._normalise.format_of(label)

    @property
    def traffic(self) -> Traffic | None:
        """The folder's learned mix of countries so far (:attr:`Normaliser.traffic`)."""
        return self._normalise.traffic

    @property
    def bands(self) -> dict[str, int] | None:
        """Plate reads by what their crop showed of a European band (:attr:`Normaliser.bands`)."""
        return self._normalise.bands


class CropReader(_Normalised):
    """OCR alone on labelled crops (``alpr eval crops``)."""

    def __init__(self, engine: OcrEngine, normalise: Normaliser) -> None:
        self._engine = engine
        self._normalise = normalise

    def read(self, crops: Sequence[np.ndarray]) -> tuple[list[PlateText], float]:
        """Normalised reads of a batch of crops and the milliseconds per crop it took."""
        start = time.perf_counter()
        results = self._engine.read(crops)
        reads = [self._normalise(r, c) for r, c in zip(results, crops, strict=True)]
        ms = (time.perf_counter() - start) * 1000 / max(1, len(crops))
        return reads, ms


class ImageReader(_Normalised):
    """Detector -> padded crops -> OCR -> normalise on whole images (``alpr eval images``).

    Every detection is read (each would be its own event); ``best`` is the most confident read.
    ``alpr eval images`` scores the read of the labelled plate (:func:`evaluate.run.labelled_read`).
    """

    def __init__(  # noqa: PLR0913
        self,
        detector,  # noqa: ANN001
        engine: OcrEngine,
        normalise: Normaliser,
        padding: float,
        vehicles=None,  # noqa: ANN001
        look: PlateLookSettings | None = None,
    ) -> None:
        self._detector = detector
        self._engine = engine
        self._normalise = normalise
        self._padding = padding
        self._vehicles = vehicles  # the edge's vehicle detector, when its vehicle stage is on
        self._look = look  # the edge's look for plates inside vehicles (with ``vehicles``)

    @classmethod
    def from_settings(cls, settings: Settings, fix_formats: bool = True) -> ImageReader:
        """Build the edge's plate detector and the configured OCR engine."""
        from edge.detect import load_detector
        from ocr.syntax import load_reader

        vehicles = settings.edge.vehicles
        return cls(
            load_detector(settings.edge.detector),
            load_reader(settings),
            Normaliser.from_settings(settings, fix_formats),
            settings.edge.crops.padding,
            load_detector(vehicles.detector) if vehicles.enabled else None,
            vehicles.plate_look,
        )

    def read(self, frame: np.ndarray) -> ImageRead:
        """Read one BGR frame ``(h, w, 3)`` uint8."""
        from edge.crops import pad_box
        from edge.plate_look import look_in_vehicles, single_pass

        start = time.perf_counter()
        h, w = frame.shape[:2]
        dets = self._detector.detect(frame)
        vehicles = None
        looking = self._vehicles is not None and self._look is not None and self._look.enabled
        if looking:  # as the edge: the vehicles first, then plates inside those with none (timed with the plates)
            vehicles = tuple(tuple(float(v) for v in b) for b in self._vehicles.detect(frame).xyxy)
            dets = look_in_vehicles(single_pass(self._detector), frame, dets, vehicles, self._look).plates
        crops, boxes = [], []
        for xyxy in dets.xyxy:
            x1, y1, x2, y2 = (float(v) for v in xyxy)
            boxes.append((x1, y1, x2 - x1, y2 - y1))
            px1, py1, px2, py2 = pad_box((x1, y1, x2, y2), self._padding, w, h)
            crops.append(frame[py1:py2, px1:px2])
        results = self._engine.read(crops) if crops else []
        reads = tuple(self._normalise(r, c) for r, c in zip(results, crops, strict=True))
        best = max(reads, key=lambda r: r.confidence if r.plate else -1.0, default=PlateText("", "", 0.0))
        ms = (time.perf_counter() - start) * 1000
        if self._vehicles is not None and vehicles is None:  # timed apart: ms stays the plate reading path's
            vehicles = tuple(tuple(float(v) for v in b) for b in self._vehicles.detect(frame).xyxy)
        return ImageRead(best, tuple(boxes), reads, ms, vehicles)  # type: ignore[arg-type]
