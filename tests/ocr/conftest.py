"""Shared OCR fixtures: one engine per test session (loading the model takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.ocr import OcrSettings

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def rapid_engine():
    """The default engine (PP-OCRv6 small from the rapidocr wheel) with default settings."""
    from ocr.base import load_engine

    return load_engine(OcrSettings())


@pytest.fixture(scope="session")
def ensemble_engine():
    """The ``ensemble`` engine (rapidocr and plate_rec) with default settings."""
    from ocr.base import load_engine

    return load_engine(OcrSettings(type="ensemble"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` beside the repository; the test is skipped when it is absent."""
    if not (DATA / "README.md").is_file():
        pytest.skip(f"evaluation data not found at {DATA}")
    return DATA
