"""A labels file copied with a region column (``python -m evaluate.regions``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evaluate.labels import read_labels
from evaluate.regions import write_regions


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "labels.csv").write_text("image,x,y,w,h,plate,state\na.png,0,0,9,9,ABC123,ca\n", encoding="utf-8")
    return src


def test_one_region_for_the_whole_set(tmp_path):
    path = write_regions(_source(tmp_path), tmp_path / "out", region="ES")
    (row,) = read_labels(path.parent)
    assert row.region == "ES"
    assert row.image == (tmp_path / "src" / "a.png").resolve()


def test_region_from_a_column(tmp_path):
    path = write_regions(_source(tmp_path), tmp_path / "out", column="state", prefix="US-")
    assert [r["region"] for r in csv.DictReader(path.open())] == ["US-CA"]


def test_exactly_one_source_of_regions(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        write_regions(_source(tmp_path), tmp_path / "out")
