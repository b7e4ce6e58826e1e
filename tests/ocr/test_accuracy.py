"""Accuracy floors of the OCR engines on fixed subsets of named splits (regression guards).

Every row of :data:`FLOORS` names its engine, its subset (data set, split, which images) and the
exact / char accuracy measured on that subset with the product's reading path (``alpr eval crops``:
format presets and the US O/0 rule on). The test fails when a figure falls more than
:data:`MARGIN_EXACT` (:data:`MARGIN_CHAR` for char accuracy) under the measured one. When accuracy
changes on purpose, re-measure (``pytest tests/ocr/test_accuracy.py -s`` prints each row as
measured) and change the row's two numbers: a one-line change.

Which splits (docs/accuracy.md, "Splits"): **none of them is held out.** plate_rec (inside the
ensemble) never trained on either subset, but rapidocr's line rules were compared on all 746
us-plates-ocr crops and chosen on the uc3m-ocr official test split, and openalpr-us photos have
decided defaults too. So these floors guard against regressions; they are not test figures.

Why a 5-point regression fails (the arithmetic): the engines are deterministic, so an unchanged
engine reproduces the measured figure on the same images exactly, and the margin only has to absorb
what a deliberate change moves. A change that costs 5 points over a data set breaks about
0.05 x n of a subset's n images (more or fewer, as a sample of them). With n = 155 or 164 and a
2-point margin the test fails once 4 or more images break (3.1 and 3.3 images are allowed); for a
loss spread like a Poisson count of mean 7.8-8.2 that happens with probability 0.96-0.97, and a
2-point drop of the whole set is already at the floor. The old subsets (41-42 crops, 3-7 point
margins) let 3 images in 42, a 7-point drop, pass.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from evaluate.labels import Labelled, read_labels
from evaluate.metrics import Summary, summarise
from evaluate.pipeline import CropReader, Normaliser
from evaluate.run import eval_crops

MARGIN_EXACT = 0.02
MARGIN_CHAR = 0.01


@dataclass(frozen=True, slots=True)
class Subset:
    """Fixed images of one split: every ``step``-th labelled crop of ``split`` of ``data_set``."""

    name: str
    data_set: str
    split: str
    step: int
    what: str  # the split, and what it was used for

    def rows(self, data: Path) -> list[Labelled]:
        """The subset's labelled crops, in file order."""
        folder = data / self.data_set
        if self.data_set == "us-plates-ocr":  # our split (training.data.us_split) through its labels file
            from training.splits import write_us_split

            folder = write_us_split(Path(tempfile.mkdtemp(prefix="alpr-us-split-")), data).parent
        return read_labels(folder, split=self.split)[:: self.step]


US_TEST = Subset(
    "us-test",
    "us-plates-ocr",
    "test",
    1,
    "our test split (file-name hash, 20%), all 155 crops: plate_rec never trained on them; they were "
    "among the 746 crops rapidocr's line rules were compared on, so not held out",
)
UC3M_TEST = Subset(
    "uc3m-test/3",
    "uc3m-ocr",
    "test",
    3,
    "official test split, every 3rd crop (164 of 491): plate_rec never trained on it; rapidocr's line and "
    "band rules were chosen on it, so a development figure, not held out",
)


@dataclass(frozen=True, slots=True)
class Floor:
    """One guarded figure: ``engine`` (a fixture of tests/ocr/conftest.py) on ``subset``, measured."""

    engine: str
    subset: Subset
    exact: float  # measured exact accuracy on the subset
    char: float  # measured char accuracy on the subset

    @property
    def id(self) -> str:
        return f"{self.engine.removesuffix('_engine')}-{self.subset.name}"


# Measured 2026-12-06 (pytest tests/ocr/test_accuracy.py -s): engine, subset, exact, char.
FLOORS = (
    Floor("ensemble_engine", US_TEST, 0.916, 0.980),
    Floor("ensemble_engine", UC3M_TEST, 0.945, 0.983),
    Floor("rapid_engine", US_TEST, 0.884, 0.974),
    Floor("rapid_engine", UC3M_TEST, 0.927, 0.977),
    Floor("variants_engine", US_TEST, 0.929, 0.983),
    Floor("variants_engine", UC3M_TEST, 0.945, 0.983),
    Floor("paddle_engine", US_TEST, 0.890, 0.975),
    Floor("paddle_engine", UC3M_TEST, 0.915, 0.969),
)


def measure(engine, subset: Subset, data: Path) -> Summary:
    """Exact and char accuracy of ``engine`` on ``subset`` as ``alpr eval crops`` reads it (default settings)."""
    from config.settings import Settings

    rows = subset.rows(data)
    return summarise(eval_crops(rows, CropReader(engine, Normaliser.from_settings(Settings())), batch_size=16))


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f.id)
def test_accuracy_floor(request, data_dir, floor: Floor):
    summary = measure(request.getfixturevalue(floor.engine), floor.subset, data_dir)
    print(f"\nmeasured {floor.id}: exact {summary.exact_accuracy:.3f}, char {summary.char_accuracy:.3f}, n {summary.n}")
    assert summary.n >= 150, summary
    assert summary.exact_accuracy >= floor.exact - MARGIN_EXACT, (floor.subset.what, summary)
    assert summary.char_accuracy >= floor.char - MARGIN_CHAR, (floor.subset.what, summary)
