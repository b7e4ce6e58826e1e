"""Regression guard: the default OCR engine on a fixed subset of real labelled crops.

Subsets: every 18th crop of us-plates-ocr (42 crops, the 5 specimens labelled ``0`` dropped)
and every 12th crop of the uc3m-ocr test split (41 crops, masked characters not scored).
Floors sit a little below what was measured when this was written: the ``rapidocr`` engine
(PP-OCRv6 small, rows="both": US 0.929 exact / 0.988 char, UC3M 0.951 / 0.990), the default
``ensemble`` engine (rapidocr + plate_rec: US 0.905 / 0.985, UC3M 0.976 / 0.995) and the ensemble
with plate_rec's opt-in test-time variants (US 0.929 / 0.989, UC3M 0.976 / 0.995) and the ``paddle``
engine (PP-OCRv4 on Paddle Inference: US 0.857 / 0.964, UC3M 0.927 / 0.985). plate_rec was
trained on most of the US subset's crops, so its rows guard against regressions only. A change
that loses more than ~2-3 plates per set fails. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import pytest

from evaluate.labels import read_labels
from evaluate.metrics import summarise
from evaluate.pipeline import CropReader, Normaliser
from evaluate.run import eval_crops

SUBSETS = [
    # engine fixture, data set, split, step, exact floor, char floor
    ("rapid_engine", "us-plates-ocr", None, 18, 0.85, 0.95),
    ("rapid_engine", "uc3m-ocr", "test", 12, 0.87, 0.96),
    ("ensemble_engine", "us-plates-ocr", None, 18, 0.85, 0.96),
    ("ensemble_engine", "uc3m-ocr", "test", 12, 0.92, 0.97),
    ("variants_engine", "us-plates-ocr", None, 18, 0.88, 0.97),
    ("variants_engine", "uc3m-ocr", "test", 12, 0.92, 0.97),
    ("paddle_engine", "us-plates-ocr", None, 18, 0.80, 0.94),
    ("paddle_engine", "uc3m-ocr", "test", 12, 0.87, 0.96),
]


@pytest.mark.parametrize(("engine", "name", "split", "step", "exact_floor", "char_floor"), SUBSETS)
def test_accuracy_floor(request, data_dir, engine, name, split, step, exact_floor, char_floor):
    rows = read_labels(data_dir / name, split=split, skip_plates=frozenset({"0"}))[::step]
    assert len(rows) >= 40
    reader = CropReader(request.getfixturevalue(engine), Normaliser(None))
    results = eval_crops(rows, reader, batch_size=16)
    summary = summarise(results)
    assert summary.n == len(rows)
    assert summary.exact_accuracy >= exact_floor, summary
    assert summary.char_accuracy >= char_floor, summary
