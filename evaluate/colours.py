"""Vehicle colour accuracy on the labelled set ``evaluate/vehicle_colours.csv``.

The set: the first 100 vehicles the shipped vehicle detector ties to the labelled plate of an
``openalpr-us`` photo (``../shared/data/openalpr-us``, in ``labels.csv`` order; the images stay
there), each labelled by eye from a thumbnail of its box with one of :data:`edge.colour.COLOURS`
(silver counts as grey; two vehicles without one body colour, a trailer and an art-wrapped car,
are left out: 98 rows). Columns: ``image, x1, y1, x2, y2, colour`` (the vehicle box, pixels).
The first 50 rows chose the thresholds of :mod:`edge.colour` (``dev``); the other 48 (``test``)
measure them. Run: ``python -m evaluate.colours [--data DIR] [--json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import cv2

LABELS = Path(__file__).with_name("vehicle_colours.csv")
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "openalpr-us"
DEV_ROWS = 50
_ACHROMATIC = frozenset({"black", "grey", "white"})


def measure(data: Path = DATA, labels: Path = LABELS) -> dict[str, object]:
    """Accuracy of :func:`edge.colour.vehicle_colour` on the labelled boxes (dev, test and all rows)."""
    from edge.colour import vehicle_colour

    rows = list(csv.DictReader(labels.open(encoding="utf-8")))
    pairs: list[tuple[str, str]] = []
    for row in rows:
        image = cv2.imread(str(data / row["image"]))
        if image is None:
            raise FileNotFoundError(f"colour set: cannot read {data / row['image']}")
        box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        pairs.append((row["colour"], vehicle_colour(image, box) or ""))  # type: ignore[arg-type]

    def accuracy(part: list[tuple[str, str]]) -> float:
        return round(sum(a == b for a, b in part) / len(part), 4) if part else 0.0

    dev, test = pairs[:DEV_ROWS], pairs[DEV_ROWS:]
    return {
        "n": len(pairs),
        "accuracy_dev": accuracy(dev),
        "accuracy_test": accuracy(test),
        "accuracy_all": accuracy(pairs),
        # Chromatic paint (red, blue, ...) told apart from black/grey/white.
        "chromatic_vs_not_all": round(sum((a in _ACHROMATIC) == (b in _ACHROMATIC) for a, b in pairs) / len(pairs), 4),
        "labels": dict(Counter(a for a, _ in pairs)),
        "confusions_all": {f"{a}->{b}": n for (a, b), n in Counter(p for p in pairs if p[0] != p[1]).most_common()},
    }


def main(argv: list[str] | None = None) -> int:
    """Print the measurement (one JSON object with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="The openalpr-us folder.")
    parser.add_argument("--json", action="store_true", help="One JSON object on stdout.")
    args = parser.parse_args(argv)
    report = measure(args.data)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
