"""Scoring of plate reads against labels, as public ALPR benchmarks do it.

A read is compared after upper-casing and keeping only A-Z and 0-9. In a label, ``?`` is a
masked character (greyed out in the pixels, e.g. UC3M-LP): it matches any one character or
none, so only the visible characters are scored. A detection matches a labelled box when
their IoU exceeds 0.4.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

IOU_MATCH = 0.4
WILDCARD = "?"

_NOT_PLATE = re.compile(r"[^A-Z0-9]")
_NOT_LABEL = re.compile(r"[^A-Z0-9?]")


def plate_key(text: str) -> str:
    """Upper-cased ``text`` with only A-Z and 0-9 kept (the benchmark comparison key)."""
    return _NOT_PLATE.sub("", text.upper())


def label_key(text: str) -> str:
    """Like :func:`plate_key` but keeps the ``?`` wildcard of masked characters."""
    return _NOT_LABEL.sub("", text.upper())


def edit_distance(read: str, label: str) -> int:
    """Levenshtein distance where a ``?`` in ``label`` costs nothing, read as one character or none."""
    prev = [0]
    for lab in label:
        prev.append(prev[-1] + (0 if lab == WILDCARD else 1))
    for i, r in enumerate(read, start=1):
        cur = [i]
        for j, lab in enumerate(label, start=1):
            wild = lab == WILDCARD
            cur.append(
                min(
                    prev[j] + 1,  # r is extra
                    cur[j - 1] + (0 if wild else 1),  # lab is missing from the read
                    prev[j - 1] + (0 if wild or lab == r else 1),
                )
            )
        prev = cur
    return prev[-1]


def is_exact(read: str, label: str) -> bool:
    """The read equals the label (both keyed; ``?`` matches any one character or none)."""
    r, lab = plate_key(read), label_key(label)
    if WILDCARD not in lab:
        return r == lab
    return edit_distance(r, lab) == 0


def char_accuracy(read: str, label: str) -> float:
    """``1 - edit distance / max(len)`` of the keyed strings, in [0, 1]; two empty strings score 1.

    Wildcards count in the label's length only when the read has characters for them.
    """
    r, lab = plate_key(read), label_key(label)
    longest = max(len(r), len(lab.replace(WILDCARD, "")))
    if longest == 0:
        return 1.0
    return 1.0 - edit_distance(r, lab) / longest


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Scored:
    """One evaluated sample: what was read, whether the plate was detected, and the timing."""

    image: str
    label: str
    read: str
    confidence: float
    detected: bool
    best_iou: float
    exact: bool
    char_accuracy: float
    ms: float
    #: The labelled plate is tied to a detected vehicle (None: vehicle stage off, or crops only).
    in_vehicle: bool | None = None


def vehicle_association(results: Sequence[Scored]) -> float | None:
    """Share of labelled plates tied to a detected vehicle (None when no sample was checked)."""
    checked = [r.in_vehicle for r in results if r.in_vehicle is not None]
    return round(sum(checked) / len(checked), 4) if checked else None


def score(image: str, label: str, read: str, confidence: float, best_iou: float, ms: float) -> Scored:
    """Score one read against its label."""
    return Scored(
        image=image,
        label=label,
        read=plate_key(read),
        confidence=confidence,
        detected=best_iou > IOU_MATCH,
        best_iou=best_iou,
        exact=is_exact(read, label),
        char_accuracy=char_accuracy(read, label),
        ms=ms,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """Aggregate figures of one evaluation run."""

    n: int
    detection_recall: float
    exact_accuracy: float
    char_accuracy: float
    ms_per_image: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain numbers, rounded for printing."""
        return {
            "n": self.n,
            "detection_recall": round(self.detection_recall, 4),
            "exact_accuracy": round(self.exact_accuracy, 4),
            "char_accuracy": round(self.char_accuracy, 4),
            "ms_per_image": round(self.ms_per_image, 2),
        }


def summarise(results: Sequence[Scored]) -> Summary:
    """Means over all samples (zeros for an empty run)."""
    n = len(results)
    if n == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0)
    return Summary(
        n=n,
        detection_recall=sum(r.detected for r in results) / n,
        exact_accuracy=sum(r.exact for r in results) / n,
        char_accuracy=sum(r.char_accuracy for r in results) / n,
        ms_per_image=sum(r.ms for r in results) / n,
    )
