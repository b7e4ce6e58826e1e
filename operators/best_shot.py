"""Best shot per track: bounded crop buffering, then character voting over OCR reads.

Per track (key ``camera:track``) the flow keeps a :class:`TrackBuffer`: the ``keep``
highest-quality crops, the first/last frame time and the number of crops seen. It is
immutable, so a bytewax ``StatefulLogic.snapshot()`` can return it as is::

    state = add(state, crop, keep=5)
    if should_close(state, now, idle_s=2.0, max_s=30.0): ...   # or notify_at(close_at(...))

When the track closes, the flow OCRs the kept crops and calls :func:`vote_track` (or
:func:`vote`), which votes the plate text character by character:

1. Reads are compacted (``A-Z0-9``); each weighs ``w = 0.5 + 0.5 * quality`` of its crop.
2. The length wins by summed ``w * confidence`` (ties: the longer).
3. Per position, among reads of that length, each read votes for its character with
   ``w`` times that character's confidence (the read's confidence when it has none);
   reads one character longer or shorter are aligned to the provisional result
   (Levenshtein opcodes) and vote too.
4. Each character's confidence is its winning vote over the summed ``w`` of the reads
   voting at that position; the read's confidence is their mean times the share of
   ``w * confidence`` that went to the winning length. Identical reads give that read
   back: its text, its character confidences, and as confidence their mean (the read's
   confidence when it has none).

The best crop is the highest-quality crop whose read equals the voted text (else the
highest-quality crop). Reads are sorted first, so their order never matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from operator import mul

from rapidfuzz.distance import Levenshtein

from operators.normalise import compact
from operators.records import OcrRead, PlateCrop, TrackRead, Vehicle

__all__ = ["TrackBuffer", "add", "close_at", "should_close", "vote", "vote_track"]

_MIN_WEIGHT = 1e-6  # a read with confidence 0 still counts when it is all there is
# One read: compact text, per-character confidences, confidence, crop weight, crop id.
_Ballot = tuple[str, tuple[float, ...], float, float, str]


@dataclass(slots=True, frozen=True)
class TrackBuffer:
    """Bounded state of one open track: its best crops, highest quality first.

    ``crops`` holds at most the ``keep`` passed to :func:`add`; ``n_crops`` counts every
    crop seen; ``first_seen``/``last_seen`` are the earliest/latest frame times.
    """

    camera_id: str
    site: str
    track_id: str
    crops: tuple[PlateCrop, ...]
    first_seen: datetime
    last_seen: datetime
    n_crops: int

    @property
    def key(self) -> str:
        """The track key ``camera_id:track_id``."""
        return f"{self.camera_id}:{self.track_id}"

    @property
    def best(self) -> PlateCrop:
        """The highest-quality crop."""
        return self.crops[0]


def _rank(crop: PlateCrop) -> tuple[float, int, str]:
    # Highest quality first; on ties the earlier frame, then the id: total and stable.
    return (-crop.quality, crop.frame_index, crop.crop_id)


def add(state: TrackBuffer | None, crop: PlateCrop, *, keep: int) -> TrackBuffer:
    """A new buffer with ``crop`` added, keeping the ``keep`` best crops (never mutates).

    Raises ``ValueError`` when ``crop`` belongs to another track than ``state``.
    """
    if keep < 1:
        raise ValueError(f"best_shot.add: keep must be >= 1, got {keep}")
    ts = crop.frame_ts
    if state is None:
        return TrackBuffer(crop.camera_id, crop.site, crop.track_id, (crop,), ts, ts, 1)
    if crop.track_id != state.track_id or crop.camera_id != state.camera_id:
        raise ValueError(f"best_shot.add: crop {crop.crop_id!r} is not of track {state.key!r}")
    crops = state.crops
    if len(crops) >= keep and _rank(crop) >= _rank(crops[-1]):
        kept = crops if len(crops) == keep else crops[:keep]
    else:
        r = _rank(crop)
        i = 0
        while i < len(crops) and _rank(crops[i]) <= r:
            i += 1
        kept = (*crops[:i], crop, *crops[i:])[:keep]
    first = ts if ts < state.first_seen else state.first_seen
    last = ts if ts > state.last_seen else state.last_seen
    return TrackBuffer(state.camera_id, state.site, state.track_id, kept, first, last, state.n_crops + 1)


def close_at(state: TrackBuffer, *, idle_s: float, max_s: float) -> datetime:
    """Event time at which the track closes: idle gap or maximum duration, whichever first."""
    return min(state.last_seen + timedelta(seconds=idle_s), state.first_seen + timedelta(seconds=max_s))


def should_close(state: TrackBuffer, now: datetime, *, idle_s: float, max_s: float) -> bool:
    """True once ``now`` (event time) is ``idle_s`` past the last crop or ``max_s`` past the first."""
    return now >= close_at(state, idle_s=idle_s, max_s=max_s)


def vote_track(
    state: TrackBuffer, reads: Sequence[OcrRead], *, provisional: bool = False, align: bool = True
) -> TrackRead:
    """:func:`vote` over a buffer's crops, with the buffer's time span and crop count."""
    return vote(
        reads,
        state.crops,
        first_seen=state.first_seen,
        last_seen=state.last_seen,
        n_crops=state.n_crops,
        provisional=provisional,
        align=align,
    )


def _vehicle(crops: Sequence[PlateCrop], best: PlateCrop) -> Vehicle | None:
    """The vehicle of a track: as the newest crop describes it (the edge's vote over the most
    frames), with its box in the best crop's frame when that crop has one."""
    described = [c for c in crops if c.vehicle_track_id is not None or c.vehicle_type is not None]
    if not described:
        return None
    newest = max(described, key=lambda c: c.frame_ts).vehicle
    if newest is None or best.vehicle_bbox is None:
        return newest
    return replace(newest, bbox=best.vehicle_bbox)


def vote(
    reads: Sequence[OcrRead],
    crops: Sequence[PlateCrop],
    *,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    n_crops: int | None = None,
    provisional: bool = False,
    align: bool = True,
) -> TrackRead:
    """Vote one plate text from the OCR reads of a track's crops (see the module doc).

    ``reads`` refer to ``crops`` by ``crop_id`` (several reads per crop are fine, none is
    too: the result is then empty with confidence 0). The time span and crop count
    default to those of ``crops``. Raises ``ValueError`` when ``crops`` is empty or a
    read names a crop not given, or when the crops belong to several tracks.
    """
    if not crops:
        raise ValueError("best_shot.vote: no crops")
    by_id = {c.crop_id: c for c in crops}
    first_crop = crops[0]
    for c in crops:
        if c.track_id != first_crop.track_id or c.camera_id != first_crop.camera_id:
            raise ValueError(f"best_shot.vote: crop {c.crop_id!r} is not of track {first_crop.key!r}")
    ballots: list[_Ballot] = []
    for r in sorted(reads, key=lambda r: (r.crop_id, r.text, r.confidence, r.char_confidences)):
        crop = by_id.get(r.crop_id)
        if crop is None:
            raise ValueError(f"best_shot.vote: read of unknown crop {r.crop_id!r}")
        text, chars = _compact_read(r)
        ballots.append((text, chars, r.confidence, 0.5 + 0.5 * crop.quality, r.crop_id))

    text, char_conf, confidence = _vote_text(ballots, align)
    best = _best_crop(crops, [b[4] for b in ballots if b[0] == text] if text else [])
    vehicle = _vehicle(crops, best)
    return TrackRead(
        camera_id=first_crop.camera_id,
        site=first_crop.site,
        track_id=first_crop.track_id,
        text=text,
        confidence=confidence,
        char_confidences=char_conf,
        best_crop=best,
        n_crops=len(crops) if n_crops is None else n_crops,
        n_reads=len(reads),
        first_seen=min(c.frame_ts for c in crops) if first_seen is None else first_seen,
        last_seen=max(c.frame_ts for c in crops) if last_seen is None else last_seen,
        provisional=provisional,
        vehicle=vehicle,
    )


def _compact_read(read: OcrRead) -> tuple[str, tuple[float, ...]]:
    """The compact text of a read and one confidence per kept character."""
    text = compact(read.text)
    if not read.char_confidences:
        return text, (read.confidence,) * len(text)
    if text == read.text:
        return text, read.char_confidences
    # Keep the confidences of the characters that survive compaction, in order; when
    # compaction changed characters (accents, look-alikes) fall back to per-char compaction.
    chars: list[float] = []
    for ch, conf in zip(read.text, read.char_confidences, strict=True):
        chars.extend([conf] * len(compact(ch)))
    if len(chars) != len(text):
        return text, (read.confidence,) * len(text)
    return text, tuple(chars)


def _vote_text(ballots: list[_Ballot], align: bool) -> tuple[str, tuple[float, ...], float]:
    """Voted text, per-character confidences and overall confidence."""
    if not ballots:
        return "", (), 0.0
    by_length: dict[int, float] = {}
    for text, _, conf, weight, _ in ballots:
        by_length[len(text)] = by_length.get(len(text), 0.0) + max(weight * conf, _MIN_WEIGHT)
    total = sum(by_length.values())
    length = max(by_length, key=lambda n: (by_length[n], n))
    if length == 0:
        return "", (), 0.0
    same = [b for b in ballots if len(b[0]) == length]
    share = by_length[length] / total
    texts = {b[0] for b in same}
    if len(texts) == 1 and not (align and any(abs(len(b[0]) - length) == 1 for b in ballots)):
        # Fast path, the common case: every read of the winning length agrees. Per position,
        # the weighted sum over the reads in order (``map(mul, ...)``: the same sum, in C).
        weights = [b[3] for b in same]
        w = sum(weights)
        agreed = tuple(min(1.0, sum(map(mul, weights, col)) / w) for col in zip(*(b[1] for b in same), strict=True))
        return texts.pop(), agreed, min(1.0, share * sum(agreed) / length)
    # positions: for each position, char -> summed vote; and the weight that voted there.
    votes: list[dict[str, float]] = [{} for _ in range(length)]
    voters = [0.0] * length
    for text, chars, _, weight, _ in same:
        for i, ch in enumerate(text):
            votes[i][ch] = votes[i].get(ch, 0.0) + weight * chars[i]
            voters[i] += weight
    draft = "".join(max(v, key=lambda c: (v[c], c)) for v in votes)
    if align:
        for text, chars, _, weight, _ in ballots:
            if abs(len(text) - length) != 1 or Levenshtein.distance(text, draft, score_cutoff=2) > 2:
                continue
            for op in Levenshtein.opcodes(text, draft):
                i1, i2, j1 = op.src_start, op.src_end, op.dest_start
                if op.tag in ("equal", "replace") and i2 - i1 == op.dest_end - j1:
                    for k in range(i2 - i1):
                        ch, pos = text[i1 + k], j1 + k
                        votes[pos][ch] = votes[pos].get(ch, 0.0) + weight * chars[i1 + k]
                        voters[pos] += weight
    out: list[str] = []
    confs: list[float] = []
    for v, n in zip(votes, voters, strict=True):
        ch = max(v, key=lambda c: (v[c], c))
        out.append(ch)
        confs.append(min(1.0, v[ch] / n) if n > 0 else 0.0)
    return "".join(out), tuple(confs), min(1.0, share * sum(confs) / len(confs))


def _best_crop(crops: Sequence[PlateCrop], agreeing: list[str]) -> PlateCrop:
    """The highest-quality crop among those whose read agrees, else among all."""
    ids = set(agreeing)
    pool = [c for c in crops if c.crop_id in ids] or list(crops)
    return min(pool, key=_rank)
