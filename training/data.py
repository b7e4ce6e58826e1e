"""Labelled data for the recogniser: real crops, deterministic splits, and text-line samples.

Real data (read from ``../shared/data``, never copied into the repository):

- ``us-plates-ocr``: US crops; split by a hash of the file name into train/val/test
  (70/10/20). The 5 specimen plates labelled ``0`` are dropped, and so is every crop whose
  plate also labels an ``openalpr-us`` image (the same car may be in both sets), so that
  ``alpr eval images ../shared/data/openalpr-us`` never scores a plate we trained on.
- ``uc3m-ocr``: Spanish crops; the official ``test`` split is our test split; the official
  ``train`` split is divided by file-name hash into train/val (90/10). Only one-row plates
  (``plate_type`` A) are trained on. Its privacy-greyed characters (``?`` in the label) are
  kept in the CTC target as the class ``?``: the model learns to say "masked" there, and the
  engine never returns that class, so only visible characters are scored.

A :class:`LineSample` is one text line prepared exactly as the engine prepares it
(``ocr.plate_rec.plate_lines``), with its target text.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr.plate_rec import CHARSET, plate_lines

#: ``../shared/data`` beside the repository, or ``$ALPR_SHARED_DATA`` (as the tests: tests/shared_data.py).
DATA_ROOT = Path(os.environ.get("ALPR_SHARED_DATA") or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
SPECIMEN_LABEL = "0"


@dataclass(frozen=True, slots=True)
class Crop:
    """One labelled real crop: image path, plate text (A-Z0-9 and ``?``), data set and split."""

    path: Path
    plate: str
    source: str
    split: str

    def __post_init__(self) -> None:
        if not self.plate or any(c not in CHARSET for c in self.plate):
            raise ValueError(f"Crop.plate must use {CHARSET!r}, got {self.plate!r} ({self.path})")
        if self.split not in {"train", "val", "test"}:
            raise ValueError(f"Crop.split must be train, val or test, got {self.split!r}")


@dataclass(frozen=True, slots=True)
class LineSample:
    """One text line (BGR uint8 ``(h, w, 3)``) and the characters it shows."""

    image: np.ndarray
    text: str


def hash_bucket(name: str, buckets: int = 100) -> int:
    """A stable bucket in ``[0, buckets)`` from a file name (SHA-1 of its UTF-8 bytes)."""
    return int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % buckets


def us_split(name: str) -> str:
    """train (70%), val (10%) or test (20%) for a us-plates-ocr file name."""
    bucket = hash_bucket(Path(name).name)
    return "train" if bucket < 70 else "val" if bucket < 80 else "test"


def _clean(plate: str) -> str:
    return "".join(c for c in plate.upper() if c in CHARSET)


def us_plates(root: Path = DATA_ROOT) -> list[Crop]:
    """The us-plates-ocr crops with our split, without specimens and openalpr-us plates."""
    folder = root / "us-plates-ocr"
    held_out = {_clean(r["plate"]) for r in _rows(root / "openalpr-us" / "labels.csv")}
    crops = []
    for row in _rows(folder / "labels.csv"):
        plate = _clean(row["plate"])
        if row["plate"] == SPECIMEN_LABEL or not plate:
            continue
        split = us_split(row["image"])
        if plate in held_out and split != "test":
            continue
        crops.append(Crop(folder / row["image"], plate, "us-plates-ocr", split))
    return crops


def uc3m(root: Path = DATA_ROOT) -> list[Crop]:
    """The uc3m-ocr crops: official test = test; official train = train/val by hash (90/10)."""
    folder = root / "uc3m-ocr"
    crops = []
    for row in _rows(folder / "labels.csv"):
        plate = _clean(row["plate"])
        if row["split"] == "test":
            split = "test"
        elif row["plate_type"] != "A":
            continue  # two-row and special plates: too few to train rows on, and no row labels
        else:
            split = "train" if hash_bucket(Path(row["image"]).name) < 90 else "val"
        crops.append(Crop(folder / row["image"], plate, "uc3m-ocr", split))
    return crops


def teacher(labels: Path, root: Path = DATA_ROOT) -> list[Crop]:
    """Unlabelled real crops read by a teacher (``training.teacher``: the ensemble decoded under
    the plate formats, kept when its read is confident), all train: ``labels`` is its CSV
    (``image`` relative to ``openimages-plate-crops``, ``plate``)."""
    folder = root / "openimages-plate-crops"
    return [Crop(folder / row["image"], _clean(row["plate"]), "openimages-teacher", "train")
            for row in _rows(labels) if _clean(row["plate"])]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_crop(crop: Crop) -> np.ndarray | None:
    """The crop's BGR pixels, or None when the file is missing or unreadable."""
    return cv2.imread(str(crop.path), cv2.IMREAD_COLOR)


def one_line(image: np.ndarray, text: str) -> LineSample | None:
    """The engine's one-line view of a one-row plate (main text band), labelled ``text``."""
    layouts = plate_lines(image)
    if not layouts or not layouts[0]:
        return None
    return LineSample(layouts[0][0], text)


def row_lines(image: np.ndarray, rows: tuple[str, ...]) -> list[LineSample]:
    """The engine's row-by-row view of a two-row plate; [] when the engine would not split it."""
    layouts = plate_lines(image)
    if len(layouts) < 2 or len(layouts[1]) != len(rows):
        return []
    return [LineSample(line, text) for line, text in zip(layouts[1], rows, strict=True)]
