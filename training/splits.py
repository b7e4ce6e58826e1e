"""Write our us-plates-ocr split as a labels file that ``alpr eval crops --split`` reads.

    .venv/bin/python -m training.splits /tmp/us-plates-split
    alpr eval crops /tmp/us-plates-split --split test --json

The written ``labels.csv`` names the images by absolute path (nothing is copied) and adds a
``split`` column: train, val, test, or ``held_out`` for crops left out of training because
their plate labels an openalpr-us image, and a ``region`` column (``US-`` + the state, for
``region_accuracy``). Specimens (label ``0``) are left out.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from training.data import DATA_ROOT, us_plates, us_split


def write_us_split(out: Path, root: Path = DATA_ROOT) -> Path:
    """Write ``out/labels.csv`` for every usable us-plates-ocr crop; returns its path."""
    folder = (root / "us-plates-ocr").resolve()
    used = {c.path.resolve() for c in us_plates(root)}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "labels.csv"
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as src, path.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=[*(reader.fieldnames or []), "split", "region"])
        writer.writeheader()
        for row in reader:
            if row["plate"] == "0":
                continue
            image = folder / row["image"]
            split = us_split(row["image"]) if image in used else "held_out"
            region = f"US-{row['state'].strip().upper()}" if row.get("state") else ""
            writer.writerow({**row, "image": str(image), "split": split, "region": region})
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m training.splits OUT_DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    args = parser.parse_args(argv)
    print(write_us_split(args.out, args.data_root))


if __name__ == "__main__":
    main()
