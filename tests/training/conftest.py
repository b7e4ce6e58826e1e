"""Fixtures of the recogniser tests: the evaluation data folder and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` beside the repository; the test is skipped when it is absent."""
    if not (DATA / "us-plates-ocr" / "labels.csv").is_file() or not (DATA / "uc3m-ocr" / "labels.csv").is_file():
        pytest.skip(f"evaluation data not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def plate_rec():
    """The shipped ``plate_rec`` engine on one thread."""
    from config.ocr import OcrSettings
    from ocr.base import load_engine

    return load_engine(OcrSettings(type="plate_rec", threads=1, deskew={"enabled": False}))  # the model itself
