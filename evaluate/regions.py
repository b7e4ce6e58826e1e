"""Copy a labels file with a ``region`` column, so that ``alpr eval`` scores ``region_accuracy``.

    .venv/bin/python -m evaluate.regions ../shared/data/uc3m-ocr /tmp/uc3m-region --region ES
    alpr eval crops /tmp/uc3m-region --split test --json

The written ``OUT/labels.csv`` is the source's with absolute image paths (nothing is copied)
and ``region`` set to ``--region`` (a data set of one country), or, with ``--from-column COL``,
to ``PREFIX`` + that column (``--from-column state --prefix US-`` for us-plates-ocr).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def write_regions(src: Path, out: Path, region: str | None = None, column: str | None = None,
                  prefix: str = "") -> Path:  # fmt: skip
    """Write ``out/labels.csv`` from ``src/labels.csv`` with a ``region`` column; returns its path."""
    if (region is None) == (column is None):
        raise ValueError("give exactly one of region or column")
    folder = src.resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "labels.csv"
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as fh, path.open("w", newline="") as dst:
        reader = csv.DictReader(fh)
        names = [n for n in reader.fieldnames or [] if n != "region"]
        writer = csv.DictWriter(dst, fieldnames=[*names, "region"])
        writer.writeheader()
        for row in reader:
            value = region if column is None else prefix + row[column].strip().upper()
            writer.writerow({**{n: row[n] for n in names}, "image": str(folder / row["image"]), "region": value})
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m evaluate.regions SRC OUT (--region XX | --from-column COL [--prefix P])``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--region")
    parser.add_argument("--from-column")
    parser.add_argument("--prefix", default="")
    args = parser.parse_args(argv)
    print(write_regions(args.src, args.out, args.region, args.from_column, args.prefix))


if __name__ == "__main__":
    main()
