"""The registry of OCR engines by ``type`` (``ocr.type`` in the settings).

A new engine plugs in by adding a factory to :data:`ENGINES`; factories import their backend
lazily, so only the chosen engine's dependencies load. The engines import only
:mod:`ocr.base` (never this module): the registry sits above them.
"""

from __future__ import annotations

from config.ocr import OcrSettings
from ocr.base import EngineFactory, OcrEngine, OcrError


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

    return load_ensemble(settings, load_engine)


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
