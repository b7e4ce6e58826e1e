"""Scoring of plate reads against labels, as public ALPR benchmarks do it.

A read is compared after upper-casing and keeping only A-Z and 0-9. In a label, ``?`` is a
masked character (greyed out in the pixels, e.g. UC3M-LP): it matches any one character or
none, so only the visible characters are scored. A detection matches a labelled box when
their IoU exceeds 0.4.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    """One evaluated sample: what was read, whether the plate was detected, and the timing.

    ``error`` is the class of a wrong read (:func:`error_class`), empty when exact; ``region`` the
    read's region, ``label_region`` the labelled one (empty: unknown), ``label_format`` the plate
    format the label fits (empty: none)."""

    image: str
    label: str
    read: str
    confidence: float
    detected: bool
    best_iou: float
    exact: bool
    char_accuracy: float
    ms: float
    error: str = ""
    region: str = ""
    label_region: str = ""
    label_format: str = ""
    #: The labelled plate is tied to a detected vehicle (None: vehicle stage off, or crops only).
    in_vehicle: bool | None = None


def vehicle_association(results: Sequence[Scored]) -> float | None:
    """Share of labelled plates tied to a detected vehicle (None when no sample was checked)."""
    checked = [r.in_vehicle for r in results if r.in_vehicle is not None]
    return round(sum(checked) / len(checked), 4) if checked else None


def score(image: str, label: str, read: str, confidence: float, best_iou: float, ms: float, *,
          region: str | None = None, label_region: str | None = None,
          label_format: str | None = None) -> Scored:  # fmt: skip
    """Score one read against its label (crops are scored with ``best_iou`` 1: all detected)."""
    exact = is_exact(read, label)
    detected = best_iou > IOU_MATCH
    return Scored(
        image=image,
        label=label,
        read=plate_key(read),
        confidence=confidence,
        detected=detected,
        best_iou=best_iou,
        exact=exact,
        char_accuracy=char_accuracy(read, label),
        ms=ms,
        error="" if exact else error_class(read, label, detected),
        region=region or "",
        label_region=label_region or "",
        label_format=label_format or "",
    )


#: Error classes of a wrong read, in the order they are tested.
ERROR_CLASSES = ("undetected", "not_read", "look_alike", "extra_text", "missing_character", "misread")

# Pairs of characters that look alike on plates (one glyph apart at a reader's resolution).
_LOOK_ALIKE = frozenset(
    frozenset(p)
    for p in ("O0", "Q0", "D0", "U0", "OD", "OQ", "I1", "L1", "J1", "T1", "7T", "IL", "4A", "4L", "B8", "S5",
              "Z2", "G6", "CG", "EF", "HW", "HN", "MN", "MW", "VY", "KX", "RP", "8S", "B3", "3E")
)  # fmt: skip


def _subsequence(short: str, long: str) -> bool:
    """``short`` is ``long`` with characters left out (``?`` in ``long`` may be left out too)."""
    it = iter(long)
    return all(any(c == x for x in it) for c in short)


def error_class(read: str, label: str, detected: bool = True) -> str:
    """Why a read is not the label: ``undetected`` (the detector missed the labelled plate),
    ``not_read`` (nothing read), ``look_alike`` (same length, every difference a look-alike pair
    such as O/0, I/1, 4/L, B/8, E/F, H/W), ``extra_text`` (the label plus characters: frames, stickers,
    emblems), ``missing_character`` (the label with characters left out), else ``misread``.
    ``?`` in a label matches any character (it is masked in the pixels)."""
    r, lab = plate_key(read), label_key(label)
    if not detected:
        return "undetected"
    if not r:
        return "not_read"
    if len(r) == len(lab) and all(
        a == b or b == WILDCARD or frozenset((a, b)) in _LOOK_ALIKE for a, b in zip(r, lab, strict=True)
    ):
        return "look_alike"
    visible = lab.replace(WILDCARD, "")
    if len(r) > len(visible) and _subsequence(visible, r):
        return "extra_text"
    if len(r) < len(visible) and _subsequence(r, visible):
        return "missing_character"
    return "misread"


@dataclass(frozen=True, slots=True)
class Summary:
    """Aggregate figures of one evaluation run.

    ``region_accuracy``: among samples whose label names a region, the share whose read has the
    same country (ISO 3166-1: ``US-CA`` counts as ``US``); None when no label names one.
    ``errors``: wrong reads per :data:`ERROR_CLASSES` entry; ``formats``: per region and shape of
    the label (``-`` when no enabled format holds it), ``[exact reads, samples]``; ``regions``:
    among samples whose label names a region, how many reads have its country (``right``), none
    (``none``: no format held the read, or no country a clear majority), and another (``wrong``,
    per country)."""

    n: int
    detection_recall: float
    exact_accuracy: float
    char_accuracy: float
    ms_per_image: float
    region_accuracy: float | None = None
    region_n: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    formats: dict[str, list[int]] = field(default_factory=dict)
    regions: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain numbers, rounded for printing (region figures only when labels name regions)."""
        out: dict[str, object] = {
            "n": self.n,
            "detection_recall": round(self.detection_recall, 4),
            "exact_accuracy": round(self.exact_accuracy, 4),
            "char_accuracy": round(self.char_accuracy, 4),
            "ms_per_image": round(self.ms_per_image, 2),
        }
        if self.region_accuracy is not None:
            out |= {"region_accuracy": round(self.region_accuracy, 4), "region_n": self.region_n}
        return out

    def breakdown(self) -> dict[str, object]:
        """Error classes, per-format counts and region outcomes (``alpr eval ... --out``)."""
        out: dict[str, object] = {"errors": dict(self.errors), "formats": {k: list(v) for k, v in self.formats.items()}}
        if self.regions:
            out["regions"] = self.regions
        return out


def country(region: str) -> str:
    """The ISO 3166-1 country of a region (``US-CA`` -> ``US``); empty stays empty."""
    return region.split("-", 1)[0].upper()


def summarise(results: Sequence[Scored]) -> Summary:
    """Means over all samples (zeros for an empty run)."""
    n = len(results)
    if n == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0)
    regional = [r for r in results if r.label_region]
    errors = {name: 0 for name in ERROR_CLASSES}
    formats: dict[str, list[int]] = {}
    for r in results:
        if r.error:
            errors[r.error] += 1
        counts = formats.setdefault(r.label_format or "-", [0, 0])
        counts[0] += r.exact
        counts[1] += 1
    return Summary(
        n=n,
        detection_recall=sum(r.detected for r in results) / n,
        exact_accuracy=sum(r.exact for r in results) / n,
        char_accuracy=sum(r.char_accuracy for r in results) / n,
        ms_per_image=sum(r.ms for r in results) / n,
        region_accuracy=(
            sum(bool(r.region) and country(r.region) == country(r.label_region) for r in regional) / len(regional)
            if regional
            else None
        ),
        region_n=len(regional),
        errors=errors,
        formats=dict(sorted(formats.items(), key=lambda kv: (-kv[1][1], kv[0]))),
        regions=_region_outcomes(regional),
    )


def _region_outcomes(regional: Sequence[Scored]) -> dict[str, object]:
    """``{"right": n, "none": n, "wrong": {country: n}}`` over samples whose label names a region."""
    if not regional:
        return {}
    wrong = Counter(country(r.region) for r in regional if r.region and country(r.region) != country(r.label_region))
    return {
        "right": sum(bool(r.region) and country(r.region) == country(r.label_region) for r in regional),
        "none": sum(not r.region for r in regional),
        "wrong": dict(sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
