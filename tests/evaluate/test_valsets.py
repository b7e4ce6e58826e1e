"""The val sets of ``python -m evaluate.valsets``: counting exact reads (pure) and the sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluate.labels import read_labels
from evaluate.valsets import exact_reads, val_crops, val_sets
from ocr.base import OcrResult
from tests.shared_data import require_data


class Answers:
    """A fake engine answering the given texts, one per crop."""

    def __init__(self, *texts: str) -> None:
        self.texts = texts

    def read(self, images):
        assert len(images) == len(self.texts)
        return [OcrResult(t, 0.9) for t in self.texts]


@pytest.mark.parametrize(
    ("reads", "labels", "expected"),
    [
        ((), (), 0),
        (("AB 123",), ("AB123",), 1),  # separators do not count
        (("ab123",), ("AB123",), 1),
        (("AB1234",), ("AB123",), 0),
        (("", "9ABC12", "9ABC13"), ("X", "?ABC12", "?ABC12"), 1),  # ? masks one character
        (("ABC12",), ("?ABC12",), 1),  # ... or none
    ],
)
def test_exact_reads(reads, labels, expected):
    images = [np.zeros((4, 4, 3), np.uint8)] * len(reads)
    assert exact_reads(Answers(*reads), images, labels) == expected


def test_val_sets_are_the_906_val_reads():
    data = require_data("us-plates-ocr/labels.csv", "uc3m-ocr/labels.csv", "openalpr-us/labels.csv")
    crops = val_crops(data)
    assert {name: len(c) for name, c in crops.items()} == {"us": 77, "uc3m": 187, "two_row": 38}
    test_images = {row.image.resolve() for row in read_labels(data / "uc3m-ocr", split="test")}
    assert test_images and not any(path.resolve() in test_images for c in crops.values() for path, _ in c)
    sets = val_sets(data)
    assert sum(len(labels) for _, labels in sets.values()) == 906
    assert all(image.shape[0] == 40 for image in sets["two_row@40"][0])


def test_main_counts_every_set_all_and_each_half(monkeypatch, capsys):
    import evaluate.valsets

    images = [np.zeros((4, 4, 3), np.uint8)] * 3
    sets = {"a": (images, ["AB1", "AB2", "AB3"]), "a@40": (images[:2], ["AB1", "XX"])}
    monkeypatch.setattr(evaluate.valsets, "val_sets", lambda root: sets)
    monkeypatch.setattr(evaluate.valsets, "load_reader", lambda settings: Answers("AB1", "AB2", "ZZ"))
    monkeypatch.setattr(Answers, "read", lambda self, ims: [OcrResult(t, 0.9) for t in self.texts[: len(ims)]])
    evaluate.valsets.main([])
    # Hits: crop 0 and 1 of "a", crop 0 of "a@40"; even half = crops 0 and 2 of each set.
    expected = {"a": [2, 3], "a@40": [1, 2], "all": [3, 5], "even": [2, 3], "odd": [1, 2]}
    assert json.loads(capsys.readouterr().out) == expected
