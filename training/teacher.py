"""Teacher reads of unlabelled real crops, to train a fast reader on (distillation).

    .venv/bin/python -m training.teacher .alpr-run/training/teacher.csv [--limit N]

Reads every crop of ``../shared/data/openimages-plate-crops`` (2,446 real crops of mixed
countries, no labels) with the product's default reader (the ensemble, decoded under every
format preset, ``ocr.syntax``) and keeps the reads a teacher is sure of: the decoded read fits a
format, and rapidocr's own read of its chosen layout is that text with a mean character
probability of at least 0.9, or plate_rec's with at least 0.97 (the members make different
mistakes; one confident member agreeing with the decoded read is rarely wrong). The CSV
(``image,plate,format,rapidocr_agrees,plate_rec_agrees``) is what ``teacher_labels`` of a training
config reads.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2

from config.load import load_settings
from ocr.syntax import SyntaxDecoder, chosen_layouts, load_reader
from operators.normalise import compact
from operators.plate_formats import preset_formats
from training.data import DATA_ROOT

SURE = {"rapidocr": 0.9, "plate_rec": 0.97}  # a member agreeing at this mean probability vouches


def main(argv: list[str] | None = None) -> None:
    """``python -m training.teacher OUT.csv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    settings = load_settings()
    plates = settings.flow.plates.model_copy(update={"presets": ("ALL",)})
    settings = settings.model_copy(update={"flow": settings.flow.model_copy(update={"plates": plates})})
    reader = load_reader(settings)
    decoder = SyntaxDecoder(preset_formats(["ALL"]))
    folder = args.data_root / "openimages-plate-crops"
    with (folder / "crops.csv").open(newline="", encoding="utf-8") as fh:
        names = [row["image"] for row in csv.DictReader(fh)][: args.limit]
    kept = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "plate", "format", "rapidocr_agrees", "plate_rec_agrees"])
        for start in range(0, len(names), 16):
            chunk = names[start : start + 16]
            images = [cv2.imread(str(folder / name), cv2.IMREAD_COLOR) for name in chunk]
            for name, result in zip(chunk, reader.read(images), strict=True):
                text = compact(result.text)
                fmt = decoder.table.best_prior(text)[1]
                if fmt is None or len(text) < 4:
                    continue
                agrees = {m: False for m in SURE}
                for lattice in chosen_layouts(result.lattices):
                    read, probability = lattice.greedy()
                    if lattice.source in SURE and read == text and probability >= SURE[lattice.source]:
                        agrees[lattice.source] = True
                if any(agrees.values()):
                    writer.writerow([name, text, fmt, int(agrees["rapidocr"]), int(agrees["plate_rec"])])
                    kept += 1
    print(f"{kept} of {len(names)} crops kept -> {args.out}")


if __name__ == "__main__":
    main()
