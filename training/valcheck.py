"""Accuracy of a ``plate_rec`` model on our val split, clean and as detector-like crops.

    .venv/bin/python -m training.valcheck MODEL.onnx [MODEL.onnx ...]

Prints, per model, exact accuracy (eval rule) on the val crops of us-plates-ocr and uc3m-ocr:
as stored, and padded by 15% (replicated border, like the edge's crop padding) then shrunk to
60 and 40 px high. Used to choose between checkpoints without touching any test split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from config.ocr import OcrSettings
from ocr.plate_rec import load_plate_rec
from training.data import uc3m, us_plates
from training.train import matches

HEIGHTS = (None, 60, 40)


def detector_like(image: np.ndarray, height: int, padding: float = 0.15) -> np.ndarray:
    """The crop padded by ``padding`` of its size on each side, resized to ``height`` rows."""
    h, w = image.shape[:2]
    padded = cv2.copyMakeBorder(image, round(padding * h), round(padding * h), round(padding * w),
                                round(padding * w), cv2.BORDER_REPLICATE)  # fmt: skip
    scale = height / padded.shape[0]
    return cv2.resize(padded, (max(8, round(padded.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)


def check(model: Path) -> list[float]:
    """Exact accuracy on the val split for each entry of :data:`HEIGHTS` (None = as stored)."""
    engine = load_plate_rec(OcrSettings(type="plate_rec", model_path=model, threads=1))
    val = [c for c in us_plates() + uc3m() if c.split == "val"]
    images = [cv2.imread(str(c.path)) for c in val]
    out = []
    for height in HEIGHTS:
        reads = engine.read(images if height is None else [detector_like(i, height) for i in images])
        texts = ["".join(ch for ch in r.text if ch.isalnum()) for r in reads]
        hits = sum(matches(t, c.plate) for t, c in zip(texts, val, strict=True))
        out.append(round(hits / len(val), 3))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m training.valcheck MODEL...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args(argv)
    for model in args.models:
        print(model, "val exact: as stored / padded 15% at 60 px / at 40 px:", check(model))


if __name__ == "__main__":
    main()
