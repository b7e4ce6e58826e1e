"""The OCR engine protocol, its result record and the registry of engines by ``type``.

An engine reads a batch of plate crops (BGR uint8 arrays, shape ``(h, w, 3)``) and returns
exactly one :class:`OcrResult` per crop. A crop it cannot read (empty, corrupt, wrong dtype)
yields an empty result; only setup problems (missing model, bad charset) raise :class:`OcrError`.

A new engine plugs in by adding a factory to :data:`ENGINES` and choosing it with
``ocr.type`` in the settings; factories import their backend lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from config.ocr import OcrSettings

if TYPE_CHECKING:
    from ocr.lattice import Lattice


class OcrError(RuntimeError):
    """An OCR engine could not be set up (unknown type, missing or invalid model)."""


@dataclass(frozen=True, slots=True)
class OcrResult:
    """One read of one crop: raw text, mean confidence and one confidence per character.

    ``char_confidences`` has one entry per non-separator character of ``text``. ``lattices``
    (CTC engines) hold what the recogniser saw, every way it cut the crop into lines, for
    decoding under plate formats (:mod:`ocr.syntax`); they are not part of equality.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    lattices: tuple[Lattice, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"OcrResult.confidence must be in [0, 1], got {self.confidence!r}")
        if any(not 0.0 <= c <= 1.0 for c in self.char_confidences):
            raise ValueError(f"OcrResult.char_confidences must be in [0, 1], got {self.char_confidences!r}")

    @classmethod
    def empty(cls) -> OcrResult:
        """Nothing read."""
        return cls("", 0.0, ())


@runtime_checkable
class OcrEngine(Protocol):
    """Reads plate crops; one result per input image, in order."""

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """Read a batch of BGR uint8 crops."""
        ...


EngineFactory = Callable[[OcrSettings], OcrEngine]


def _rapidocr(settings: OcrSettings) -> OcrEngine:
    from ocr.rapid import load_rapidocr

    return load_rapidocr(settings)


def _onnx_ctc(settings: OcrSettings) -> OcrEngine:
    from ocr.ctc import load_ctc

    return load_ctc(settings)


def _plate_rec(settings: OcrSettings) -> OcrEngine:
    from ocr.plate_rec import load_plate_rec

    return load_plate_rec(settings)


def _paddle(settings: OcrSettings) -> OcrEngine:
    from ocr.paddle import load_paddle

    return load_paddle(settings)


def _ensemble(settings: OcrSettings) -> OcrEngine:
    from ocr.ensemble import load_ensemble

    return load_ensemble(settings)


# type -> factory. A plate-specialised recogniser adds its own line here.
ENGINES: dict[str, EngineFactory] = {
    "rapidocr": _rapidocr,
    "onnx_ctc": _onnx_ctc,
    "plate_rec": _plate_rec,
    "paddle": _paddle,
    "ensemble": _ensemble,
}


def load_engine(settings: OcrSettings) -> OcrEngine:
    """Build the engine named by ``settings.type``; raises :class:`OcrError` when it cannot."""
    factory = ENGINES.get(settings.type)
    if factory is None:
        raise OcrError(f"ocr.type: unknown engine {settings.type!r}; known: {', '.join(sorted(ENGINES))}")
    engine = factory(settings)
    if settings.deskew.enabled:
        from ocr.deskew import DeskewingReader

        d = settings.deskew
        engine = DeskewingReader(engine, d.min_deg, d.max_deg, d.shear_min_deg)
    return engine
