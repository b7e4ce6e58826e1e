"""Data recipe: deterministic, disjoint splits; specimens and openalpr-us plates kept out of training."""

from __future__ import annotations

import csv

import pytest

from training.data import Crop, hash_bucket, uc3m, us_plates, us_split
from training.train import matches


def test_hash_bucket_is_stable():
    # SHA-1 of the name, not Python's salted hash(): the same split on every machine and run.
    assert [hash_bucket(n) for n in ("ak1165.png", "ca1.png", "tx12.png")] == [55, 25, 24]
    assert [us_split(f"x{i}.png") for i in range(50)] == [us_split(f"x{i}.png") for i in range(50)]


def test_split_proportions_are_roughly_70_10_20():
    splits = [us_split(f"plate{i}.png") for i in range(5000)]
    assert 0.66 < splits.count("train") / 5000 < 0.74
    assert 0.08 < splits.count("val") / 5000 < 0.12


def test_crop_rejects_unknown_characters(tmp_path):
    with pytest.raises(ValueError, match="plate"):
        Crop(tmp_path / "a.png", "AB-12", "x", "train")


@pytest.mark.parametrize(
    ("read", "label", "ok"),
    [("ABC123", "ABC123", True), ("ABC12", "ABC123", False), ("1234BC", "1?34?BC", True),
     ("134BC", "1?34?BC", True), ("1X34YBC", "1?34?BC", True), ("1XY34BC", "1?34?BC", False)],
)  # fmt: skip
def test_masked_characters_match_one_or_none(read, label, ok):
    assert matches(read, label) is ok


def test_us_split_is_deterministic_disjoint_and_clean(data_dir):
    first, second = us_plates(data_dir), us_plates(data_dir)
    assert [(c.path, c.split) for c in first] == [(c.path, c.split) for c in second]
    by_split = {s: {c.path for c in first if c.split == s} for s in ("train", "val", "test")}
    assert all(by_split[s] for s in by_split)
    assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"]
                or by_split["val"] & by_split["test"])  # fmt: skip
    with (data_dir / "us-plates-ocr" / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    specimens = {r["image"] for r in rows if r["plate"] == "0"}
    assert len(specimens) == 5 and not {c.path.name for c in first} & {s.split("/")[-1] for s in specimens}
    with (data_dir / "openalpr-us" / "labels.csv").open() as fh:
        endtoend = {r["plate"] for r in csv.DictReader(fh)}
    assert not [c for c in first if c.split != "test" and c.plate in endtoend]


def test_uc3m_test_split_is_the_official_one(data_dir):
    crops = uc3m(data_dir)
    with (data_dir / "uc3m-ocr" / "labels.csv").open() as fh:
        official = {r["image"].split("/")[-1] for r in csv.DictReader(fh) if r["split"] == "test"}
    assert {c.path.name for c in crops if c.split == "test"} == official
    trained = {c.path.name for c in crops if c.split in {"train", "val"}}
    assert trained and not trained & official
    assert all("?" in c.plate for c in crops[:50])  # privacy-masked characters are kept as '?'
