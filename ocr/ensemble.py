"""Engine ``ensemble``: every crop read by several engines, one read chosen per crop.

The members (``ocr.ensemble.members``, by default rapidocr then plate_rec) make different
mistakes: PP-OCRv6 reads extra characters from frames and stickers and stacks of small letters,
plate_rec drops a row of two-row plates and confuses look-alikes on blurred crops. Per crop,
:func:`choose` keeps one member's read (never a mix of characters, so the result is something a
member actually saw):

1. members that agree (same compact text) agree; the first member's read is returned;
2. when one read is the other with characters left out, the shorter read wins only if every
   character it lacks is doubtful (below ``ocr.ensemble.extra_confidence`` in the longer read):
   doubtful extra characters are noise the longer read added (frames, stickers), a confident one
   is a character the shorter read missed (a row of a two-row plate, a blurred character);
3. otherwise the read with the higher mean character confidence wins (ties: the earlier member);
   a member named in ``ocr.ensemble.calibration`` has its mean confidence mapped to an estimate
   of P(read right) first (:func:`calibrate`; opt-in), as the members' raw confidences are not on
   one scale; the chosen read keeps its raw confidence.

With ``ocr.ensemble.cascade`` (opt-in) one member reads every crop first and its read stands
alone where it is sure of it (:func:`sure`: every character confident, long enough, one way to cut
the crop into lines); the other members read only the rest, and the rules above choose there.

A member named in ``ocr.ensemble.variants`` (opt-in, none by default) reads each crop several
ways and its variants vote first (:mod:`ocr.variants`); the voted read takes part in the rules above.
Rules, threshold and variants were chosen on val splits only (docs/accuracy.md, "Ensemble").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from config.ocr import CascadeSettings, OcrSettings
from ocr.base import EngineFactory, OcrEngine, OcrError, OcrResult
from operators.normalise import compact


def extra_confidence(longer: str, confidences: Sequence[float], shorter: str) -> float | None:
    """How sure ``longer`` is of the characters ``shorter`` lacks, or None when ``shorter`` is not
    ``longer`` with characters left out.

    Over every way of deleting characters of ``longer`` to get ``shorter``, the smallest possible
    highest confidence of a deleted character (the deletion most favourable to ``shorter``).
    ``confidences`` has one entry per character of ``longer``; equal strings give 0.

    >>> extra_confidence("AB1C", (0.9, 0.8, 0.3, 0.9), "ABC")
    0.3
    """
    if len(confidences) != len(longer):
        raise ValueError(f"extra_confidence: {len(confidences)} confidences for {len(longer)} characters")
    n, m = len(longer), len(shorter)
    if m > n:
        return None
    # best[j]: over alignments of longer[:i] to shorter[:j], the least highest deleted confidence.
    best = [0.0] + [np.inf] * m
    for i in range(n):
        nxt = [max(best[0], confidences[i])]
        for j in range(1, m + 1):
            keep = best[j - 1] if longer[i] == shorter[j - 1] else np.inf
            nxt.append(min(keep, max(best[j], confidences[i])))
        best = nxt
    return None if best[m] == np.inf else float(best[m])


def calibrate(confidence: float, scale: float, shift: float) -> float:
    """A mean character confidence mapped to ``sigmoid(scale * logit(confidence) + shift)``, a
    monotone estimate of P(read right) when ``scale > 0`` (``(1, 0)`` keeps it, up to clipping the
    confidence to [1e-6, 1 - 1e-6]).

    >>> round(calibrate(0.5, 2.0, 1.0), 3)
    0.731
    """
    c = min(max(confidence, 1e-6), 1 - 1e-6)
    return float(1 / (1 + np.exp(-(scale * np.log(c / (1 - c)) + shift))))


def prefer(
    first: OcrResult, second: OcrResult, min_extra: float, scores: tuple[float, float] | None = None
) -> OcrResult:
    """The better of two reads of one crop (rules 1-3 of the module docstring); ties keep ``first``.

    ``scores`` (default: the reads' mean confidences) are compared by rule 3."""
    a, b = compact(first.text), compact(second.text)
    if a == b:
        return first
    for longer, text, shorter in ((first, a, b), (second, b, a)):
        if len(text) > len(shorter) and len(longer.char_confidences) == len(text):
            extra = extra_confidence(text, longer.char_confidences, shorter)
            if extra is not None:
                return longer if extra >= min_extra else (second if longer is first else first)
    first_score, second_score = scores or (first.confidence, second.confidence)
    return second if second_score > first_score else first


def choose(
    reads: Sequence[OcrResult], min_extra: float, calibrations: Sequence[tuple[float, float] | None] = ()
) -> OcrResult:
    """One read out of the members' reads of a crop, in member order (see :func:`prefer`).

    ``calibrations``: per read, the ``(scale, shift)`` of :func:`calibrate` for rule 3, or None
    (missing entries: None) to compare the raw mean confidence."""
    if not reads:
        return OcrResult.empty()
    maps = list(calibrations) + [None] * (len(reads) - len(calibrations))
    scores = [r.confidence if m is None else calibrate(r.confidence, *m) for r, m in zip(reads, maps, strict=True)]
    best, best_score = reads[0], scores[0]
    for other, score in zip(reads[1:], scores[1:], strict=True):
        if prefer(best, other, min_extra, (best_score, score)) is other:
            best, best_score = other, score
    return best


def sure(read: OcrResult, min_char_confidence: float, min_length: int, one_layout: bool) -> bool:
    """A cascade's first read may stand alone: at least ``min_length`` characters, each at least
    ``min_char_confidence``, and (``one_layout``) at most one way of cutting the crop into lines."""
    return (
        len(compact(read.text)) >= min_length
        and bool(read.char_confidences)
        and min(read.char_confidences) >= min_char_confidence
        and (not one_layout or len(read.lattices) <= 1)
    )


class EnsembleReader:
    """Reads every batch with each member engine and chooses one read per crop.

    The chosen read carries every member's lattices, each attributed to its member (``names``),
    so that a syntax decoder (:mod:`ocr.syntax`) can weigh what all members saw."""

    def __init__(
        self,
        members: Sequence[OcrEngine],
        min_extra: float,
        min_confidence: float = 0.0,
        calibrations: Sequence[tuple[float, float] | None] = (),
        names: Sequence[str] = (),
        cascade: CascadeSettings | None = None,
    ) -> None:
        if not members:
            raise OcrError("ocr.ensemble.members: an ensemble needs at least one engine")
        self._members = tuple(members)
        self._names = tuple(names) + tuple(f"member{i}" for i in range(len(names), len(members)))
        self._min_extra = min_extra
        self._min_confidence = min_confidence
        self._calibrations = tuple(calibrations)
        if cascade is not None and cascade.member not in self._names:
            raise OcrError(f"ocr.ensemble.cascade.member: {cascade.member!r} is not one of {list(self._names)}")
        self._cascade = cascade

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """One result per crop, in order."""
        if self._cascade is None:
            per_member = [member.read(images) for member in self._members]
            return [self._chosen(reads, self._names) for reads in zip(*per_member, strict=True)]
        c = self._cascade
        first_index = self._names.index(c.member)
        first = self._members[first_index].read(images)
        unsure = [i for i, r in enumerate(first) if not sure(r, c.min_char_confidence, c.min_length, c.one_layout)]
        rest = [images[i] for i in unsure]
        others = [m.read(rest) if rest else [] for k, m in enumerate(self._members) if k != first_index]
        out = [self._chosen((r,), (c.member,)) for r in first]
        for j, i in enumerate(unsure):
            reads = [read[j] for read in others]
            reads.insert(first_index, first[i])
            out[i] = self._chosen(reads, self._names)
        return out

    def _chosen(self, reads: Sequence[OcrResult], names: Sequence[str]) -> OcrResult:
        """The chosen read of one crop with every read's lattices, attributed to its member."""
        calibrations = self._calibrations if len(reads) == len(self._members) else ()
        best = choose(reads, self._min_extra, calibrations)
        if best.confidence < self._min_confidence:
            return OcrResult.empty()
        seen = tuple(
            lattice.with_source(name) for name, read in zip(names, reads, strict=True) for lattice in read.lattices
        )
        return replace(best, lattices=seen)


def load_ensemble(settings: OcrSettings, load_engine: EngineFactory) -> EnsembleReader:
    """The ``ensemble`` engine: each of ``settings.ensemble.members`` built from the same settings
    with its bundled model (``model_path`` and ``charset_path`` name one model, so they are refused)
    by ``load_engine`` (:func:`ocr.registry.load_engine`)."""
    from ocr.variants import VotingReader

    if settings.model_path is not None or settings.charset_path is not None:
        raise OcrError(
            "ocr.model_path / ocr.charset_path: not used by the ensemble engine (each member reads "
            f"with its bundled model); got {settings.model_path} / {settings.charset_path}"
        )
    members = settings.ensemble.members
    if "ensemble" in members:
        raise OcrError(f"ocr.ensemble.members: an ensemble cannot contain itself, got {list(members)}")
    # Members return every read; the confidence floor applies to the chosen one only. The ensemble
    # deskews each crop once (load_engine wraps it), so its members do not.
    no_deskew = settings.deskew.model_copy(update={"enabled": False})
    engines = [
        load_engine(settings.model_copy(update={"type": m, "min_confidence": 0.0, "deskew": no_deskew}))
        for m in members
    ]
    variants = settings.ensemble.variants
    engines = [VotingReader(e, variants[m]) if m in variants else e for m, e in zip(members, engines, strict=True)]
    calibrations = [settings.ensemble.calibration.get(m) for m in members]
    return EnsembleReader(
        engines,
        settings.ensemble.extra_confidence,
        settings.min_confidence,
        calibrations,
        names=members,
        cascade=settings.ensemble.cascade,
    )
