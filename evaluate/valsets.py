"""Exact reads of the configured OCR engine on the val sets that OCR choices are made on.

    .venv/bin/python -m evaluate.valsets [-c config.yaml]     # settings + ALPR_* env, as alpr eval

The 906 val reads of docs/accuracy.md ("Ensemble"): our us-plates-ocr val split (77 crops), the
uc3m-ocr val part (official train split, plate type A, file-name hash mod 100 >= 90: 187), the
38 two-row and special plates of the uc3m-ocr official train split, each as stored and made
detector-like (padded 15%, shrunk to 60 and 40 px high, as ``training.valcheck``). A read counts
when :func:`evaluate.metrics.is_exact` holds for the engine's read (no fixes by the validator; the
engine decodes under the configured plate formats as the product does, ``ocr.syntax``;
``ALPR_OCR__SYNTAX__ENABLED=false`` gives the raw reads). No test split and no openalpr-us image is
read. ``even`` and ``odd`` count the two halves of the val crops (index of the crop in its set), to
check that a choice made on val holds on each half.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from config.load import load_settings
from evaluate.metrics import is_exact
from ocr.base import OcrEngine
from ocr.syntax import load_reader

HEIGHTS = (60, 40)  # detector-like copies of every val crop


def val_crops(root: Path) -> dict[str, list[tuple[Path, str]]]:
    """The val crops (image path, label) by set: ``us``, ``uc3m``, ``two_row``."""
    from training.data import uc3m, us_plates

    two_row = []
    with (root / "uc3m-ocr" / "labels.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "train" and row["plate_type"] != "A":
                two_row.append((root / "uc3m-ocr" / row["image"], row["plate"]))
    return {
        "us": [(c.path, c.plate) for c in us_plates(root) if c.split == "val"],
        "uc3m": [(c.path, c.plate) for c in uc3m(root) if c.split == "val"],
        "two_row": two_row,
    }


def val_sets(root: Path) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """Images and labels of every val set, as stored (``us``) and detector-like (``us@60``, ...)."""
    from training.valcheck import detector_like

    sets = {}
    for name, crops in val_crops(root).items():
        images = [cv2.imread(str(path), cv2.IMREAD_COLOR) for path, _ in crops]
        labels = [label for _, label in crops]
        sets[name] = (images, labels)
        for height in HEIGHTS:
            sets[f"{name}@{height}"] = ([detector_like(image, height) for image in images], labels)
    return sets


def exact_reads(engine: OcrEngine, images: Sequence[np.ndarray], labels: Sequence[str]) -> int:
    """How many of ``images`` the engine reads exactly as their ``labels``."""
    return sum(is_exact(r.text, label) for r, label in zip(engine.read(images), labels, strict=True))


def main(argv: list[str] | None = None) -> None:
    """``python -m evaluate.valsets``: one JSON object, set -> [exact reads, crops], ``all``, ``even``, ``odd``."""
    from training.data import DATA_ROOT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, action="append", help="Settings YAML (repeatable).")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    args = parser.parse_args(argv)
    engine = load_reader(load_settings(*(args.config or [])))
    out, halves = {}, {"even": [0, 0], "odd": [0, 0]}
    for name, (images, labels) in val_sets(args.data_root).items():
        exact = [is_exact(r.text, label) for r, label in zip(engine.read(images), labels, strict=True)]
        out[name] = [sum(exact), len(labels)]
        for i, hit in enumerate(exact):
            halves["odd" if i % 2 else "even"][0] += hit
            halves["odd" if i % 2 else "even"][1] += 1
    out["all"] = [sum(hits for hits, _ in out.values()), sum(n for _, n in out.values())]
    out |= halves
    print(json.dumps(out))


if __name__ == "__main__":
    main()
