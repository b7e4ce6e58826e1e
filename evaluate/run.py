"""Running an evaluation over a labelled folder: read, score, report progress, write predictions."""

from __future__ import annotations

import csv
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TextIO, TypeVar

import cv2
import numpy as np

from evaluate.labels import Labelled
from evaluate.metrics import IOU_MATCH, Scored, iou, is_exact, score
from evaluate.pipeline import CropReader, ImageRead, ImageReader, PlateText

log = logging.getLogger(__name__)

T = TypeVar("T")


class Progress:
    """A one-line counter with rate and ETA on a stream (stderr): rewritten in place on a terminal,
    a line every 10% otherwise."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self._total = total
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._start = time.monotonic()
        self._shown = -1.0
        self._next = 0

    def update(self, done: int) -> None:
        """Show that ``done`` items of the total are finished."""
        now = time.monotonic()
        if self._tty and now - self._shown < 0.2 and done < self._total:
            return
        if not self._tty and done < max(self._next, 1) and done < self._total:
            return
        self._next = done + max(1, self._total // 10)
        self._shown = now
        rate = done / max(now - self._start, 1e-9)
        eta = (self._total - done) / rate if rate > 0 else 0.0
        line = f"{self._label} {done}/{self._total}  {rate:.1f}/s  ETA {eta:.0f}s"
        self._stream.write(("\r" + line) if self._tty else line + "\n")
        if self._tty and done >= self._total:
            self._stream.write("\n")
        self._stream.flush()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_image(path: Path) -> np.ndarray | None:
    """The image as BGR uint8, or None (logged) when it is missing or does not decode."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        log.warning("eval: cannot read image %s; scored as not read", path)
        return None
    return image


def cut(image: np.ndarray | None, box: tuple[int, int, int, int]) -> np.ndarray:
    """The labelled region of an image, clipped to it (an empty array when nothing is left)."""
    if image is None:
        return np.zeros((0, 0, 3), np.uint8)
    x, y, w, h = box
    return image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]


def eval_crops(
    rows: Sequence[Labelled], reader: CropReader, batch_size: int, progress: Progress | None = None
) -> list[Scored]:
    """OCR alone on the labelled regions, in batches; ``ms`` is the batch time per crop."""
    out: list[Scored] = []
    for chunk in _chunks(rows, batch_size):
        crops = [cut(load_image(r.image), r.box) for r in chunk]
        reads, ms = reader.read(crops)
        for row, read in zip(chunk, reads, strict=True):
            out.append(score(row.name, row.plate, read.plate, read.confidence, 1.0, ms))
        if progress is not None:
            progress.update(len(out))
    return out


def labelled_read(result: ImageRead, box: tuple[float, float, float, float], label: str) -> tuple[PlateText, float]:
    """The read scored for the labelled plate of an image, and the best IoU of a detection to it.

    Every detection is its own event in the product, and an image may show plates that are not
    labelled (parked cars, the next lane), so the labelled plate counts as read when any
    detection's read equals it. Otherwise the read of the detection that overlaps the labelled
    box best (IoU above 0.4) is scored, else the most confident read (a read of something else).
    """
    ious = [iou(b, box) for b in result.boxes]
    best_iou = max(ious, default=0.0)
    for read in result.reads:
        if read.plate and is_exact(read.plate, label):
            return read, best_iou
    if best_iou > IOU_MATCH:
        return result.reads[ious.index(best_iou)], best_iou
    return result.best, best_iou


def tied_to_vehicle(box: tuple[int, int, int, int], vehicles: Sequence[tuple[float, float, float, float]]) -> bool:
    """Whether the edge would tie the labelled plate ``(x, y, w, h)`` to one of the detected vehicle boxes
    (:func:`edge.associate.vehicle_of`: its centre in a vehicle box's lower part)."""
    from edge.associate import vehicle_of
    from edge.track import TrackedBox

    x, y, w, h = box
    return vehicle_of((x, y, x + w, y + h), [TrackedBox(str(i), v, 1.0) for i, v in enumerate(vehicles)]) is not None


def eval_images(rows: Sequence[Labelled], reader: ImageReader, progress: Progress | None = None) -> list[Scored]:
    """The whole reading path on each image; see :func:`labelled_read` for the read scored."""
    out: list[Scored] = []
    for row in rows:
        image = load_image(row.image)
        if image is None:
            out.append(score(row.name, row.plate, "", 0.0, 0.0, 0.0))
        else:
            result = reader.read(image)
            read, best_iou = labelled_read(result, row.box, row.plate)
            scored = score(row.name, row.plate, read.plate, read.confidence, best_iou, result.ms)
            if result.vehicles is not None:
                scored = replace(scored, in_vehicle=tied_to_vehicle(row.box, result.vehicles))
            out.append(scored)
        if progress is not None:
            progress.update(len(out))
    return out


def write_csv(results: Iterable[Scored], path: Path) -> None:
    """Per-sample predictions, one row each, columns named after :class:`Scored`'s fields."""
    names = [f.name for f in fields(Scored)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for result in results:
            row = asdict(result)
            row["confidence"] = f"{result.confidence:.4f}"
            row["best_iou"] = f"{result.best_iou:.4f}"
            row["char_accuracy"] = f"{result.char_accuracy:.4f}"
            row["ms"] = f"{result.ms:.2f}"
            writer.writerow(row)
