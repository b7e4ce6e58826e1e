"""What every OCR engine shares: the engine protocol, its result record and its error.

An engine reads a batch of plate crops (BGR uint8 arrays, shape ``(h, w, 3)``) and returns
exactly one :class:`OcrResult` per crop. A crop it cannot read (empty, corrupt, wrong dtype)
yields an empty result; only setup problems (missing model, bad charset) raise :class:`OcrError`.
The engines are chosen by ``ocr.type`` in :mod:`ocr.registry`.
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
