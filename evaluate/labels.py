"""Reading a labelled data set: a folder of images with a ``labels.csv``.

``labels.csv`` has at least the columns ``image,x,y,w,h,plate`` (pixel box in the stored
image, ``x,y`` top-left); extra columns are allowed, ``split`` filters a data set's split and
``region`` (ISO 3166-1 country or 3166-2 subdivision, e.g. ``ES``, ``US-CA``; empty: unknown)
is scored as ``region_accuracy``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("image", "x", "y", "w", "h", "plate")


class EvalError(ValueError):
    """The evaluation input is unusable (missing folder, bad labels file)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled plate: image name as in the labels file, its path, plate box ``(x, y, w, h)``
    in pixels, text, split and region."""

    name: str
    image: Path
    box: tuple[int, int, int, int]
    plate: str
    split: str | None = None
    region: str | None = None


def read_labels(folder: Path, split: str | None = None, skip_plates: frozenset[str] = frozenset()) -> list[Labelled]:
    """The rows of ``folder/labels.csv`` in file order.

    ``split`` keeps only rows whose ``split`` column equals it (an error when there is no such
    column); ``skip_plates`` drops rows by label (e.g. ``{"0"}`` for unreadable specimens).
    Raises :class:`EvalError` naming the file and line of a bad row.
    """
    path = folder / "labels.csv"
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"{path}: cannot read labels: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise EvalError(f"{path}: missing column(s) {', '.join(missing)}; need {','.join(REQUIRED)}")
        if split is not None and "split" not in columns:
            raise EvalError(f"{path}: --split {split} given but the file has no 'split' column")
        rows = []
        for line, row in enumerate(reader, start=2):
            if split is not None and row["split"] != split:
                continue
            if row["plate"] in skip_plates:
                continue
            try:
                box = (int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
            except (TypeError, ValueError) as exc:
                raise EvalError(f"{path}:{line}: box x,y,w,h must be integers, got {row}") from exc
            if box[2] <= 0 or box[3] <= 0 or not row["image"]:
                raise EvalError(f"{path}:{line}: empty image name or non-positive box size {box}")
            region = (row.get("region") or "").strip().upper() or None
            rows.append(Labelled(row["image"], folder / row["image"], box, row["plate"], row.get("split"), region))
    return rows
