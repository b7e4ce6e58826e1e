"""Fixtures of the recogniser tests: the evaluation data folder and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_data import require_data


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` beside the repository; the test is skipped when it is absent."""
    return require_data("us-plates-ocr/labels.csv", "uc3m-ocr/labels.csv")


@pytest.fixture(scope="session")
def plate_rec():
    """The shipped ``plate_rec`` engine on one thread."""
    from config.ocr import OcrSettings
    from ocr.registry import load_engine

    return load_engine(OcrSettings(type="plate_rec", threads=1, deskew={"enabled": False}))  # the model itself
