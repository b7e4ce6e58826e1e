"""Fuzzy de-duplication of plate events within a time window (event time).

State per key (the camera, or the site: :func:`dedup_key`) holds the recent events of
that key. A new candidate event whose plate is close to a recent one (confusion-aware
edit distance, :func:`operators.normalise.plate_distance`) and within the window merges
into it, and the output is an UPDATE of that event: the same ``event_id`` and
``first_seen`` (the database key), ``last_seen`` extended, ``sightings`` summed over the
merged tracks, and the plate, confidence, region, frame time and crop of the most
confident read. Otherwise the candidate is a new event. A later read of a track already
merged (e.g. the final read after a provisional one) replaces that track's share.

State stays bounded: events whose ``last_seen`` is more than the window before the
latest candidate ``first_seen`` seen (the watermark) are evicted on every call, and at most
``max_events`` are kept.

Event time comes from the edge, so it can be wrong: given the flow's clock (``now``), a
candidate stamped more than ``max_future_s`` ahead of it does not move the watermark.
Without that bound, one crop dated 2100 moved it to 2100 and every later event of its key
was evicted before it could merge (and the recovery snapshots kept that state); a watermark
restored from such a snapshot is pulled back to the clock.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from operators.normalise import fold_confusions, plate_distance
from operators.records import PlateEvent

if TYPE_CHECKING:
    from config.flow import FlowSettings

__all__ = ["DedupRules", "DedupState", "dedup", "dedup_key", "forget"]

_MAX_TRACKS = 32  # per event: shares of this many tracks are remembered
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the watermark before any plausible event time


@dataclass(slots=True, frozen=True)
class DedupRules:
    """How events merge: time ``window_s``, ``max_distance``, and the state bound."""

    window_s: float = 300.0
    max_distance: float = 1.0
    confusion_cost: float = 0.5
    max_events: int = 1000
    by: Literal["camera", "site"] = "camera"
    max_future_s: float = 300.0

    def __post_init__(self) -> None:
        if self.window_s < 0 or self.max_distance < 0 or self.max_events < 1:
            raise ValueError(f"DedupRules: window_s and max_distance must be >= 0, max_events >= 1, got {self!r}")

    @classmethod
    def from_settings(cls, flow: FlowSettings) -> DedupRules:
        """From the ``flow`` settings section."""
        return cls(
            window_s=flow.dedup_window_s,
            max_distance=flow.dedup.max_distance,
            confusion_cost=flow.plates.confusion_cost,
            max_events=flow.dedup.max_events,
            by=flow.dedup.by,
        )

    def with_max_future(self, seconds: float) -> DedupRules:
        """These rules with ``max_future_s`` (``limits.max_future_s``)."""
        return replace(self, max_future_s=seconds)


@dataclass(slots=True, frozen=True)
class _Recent:
    """One recent (merged) event, the track (``camera:track``) of its best read, and each
    track's sightings."""

    event: PlateEvent
    best_track: str
    tracks: tuple[tuple[str, int], ...]


@dataclass(slots=True, frozen=True)
class DedupState:
    """Recent events of one key, oldest ``last_seen`` first, and the latest ``first_seen`` seen.

    ``times`` (each entry's ``last_seen``) and ``folded`` (its confusion-folded plate)
    run parallel to ``recent`` so that eviction is a bisection and the fuzzy prefilter
    runs in C; ``tracks`` maps each merged ``camera:track`` to its event id. Treat all of
    it as immutable: :func:`dedup` copies before it changes anything.
    """

    recent: tuple[_Recent, ...]
    times: tuple[datetime, ...]
    folded: tuple[str, ...]
    tracks: dict[str, str]
    watermark: datetime

    def __len__(self) -> int:
        return len(self.recent)


def dedup_key(event: PlateEvent, by: Literal["camera", "site"] = "camera") -> str:
    """The state key of ``event``: its camera id, or its site."""
    return event.camera_id if by == "camera" else event.site


def dedup(
    state: DedupState | None, candidate: PlateEvent, rules: DedupRules, *, now: datetime | None = None
) -> tuple[DedupState, PlateEvent]:
    """Merge ``candidate`` into a recent event of the same key, or start a new one.

    Returns the new state and the event to emit (an update when its ``event_id`` is that
    of an earlier event). Never mutates ``state``. ``now`` (the flow's clock) bounds the
    watermark at ``now + rules.max_future_s``; without it event time is trusted.
    """
    window = timedelta(seconds=rules.window_s)
    # Event time advances with the candidates' first_seen: a later candidate can still
    # merge with any event whose last_seen is within the window before its first_seen.
    first = candidate.first_seen
    if now is None:
        seen = first if state is None else max(first, state.watermark)
    else:  # an implausible time (past the clock's allowance) never moves the watermark
        limit = now + timedelta(seconds=rules.max_future_s)
        watermark = _EPOCH if state is None or state.watermark > limit else state.watermark
        seen = max(watermark, first) if first <= limit else watermark
    if state is None:
        state = DedupState((), (), (), {}, seen)
    if candidate.no_plate:  # no plate to compare: every vehicle without one is its own event
        return state, candidate
    now = seen
    recent, times, folded, tracks = state.recent, state.times, state.folded, dict(state.tracks)
    k = bisect_left(times, now - window)
    if k:
        _forget(tracks, recent[:k])
        recent, times, folded = recent[k:], times[k:], folded[k:]

    i = _find(recent, folded, tracks, candidate, rules, window)
    if i is None:
        track = _track(candidate)
        entry = _Recent(candidate, track, ((track, candidate.sightings),))
    else:
        entry = _merge(recent[i], candidate)
        _forget(tracks, recent[i : i + 1])
        recent, times, folded = (
            recent[:i] + recent[i + 1 :],
            times[:i] + times[i + 1 :],
            folded[:i] + folded[i + 1 :],
        )
    for t, _ in entry.tracks:
        tracks[t] = entry.event.event_id
    j = bisect_right(times, entry.event.last_seen)
    recent = (*recent[:j], entry, *recent[j:])
    times = (*times[:j], entry.event.last_seen, *times[j:])
    folded = (*folded[:j], fold_confusions(entry.event.plate), *folded[j:])
    extra = len(recent) - rules.max_events
    if extra > 0:
        _forget(tracks, recent[:extra])
        recent, times, folded = recent[extra:], times[extra:], folded[extra:]
    return DedupState(recent, times, folded, tracks, now), entry.event


def forget(state: DedupState | None, erased: Callable[[PlateEvent], bool]) -> DedupState | None:
    """``state`` without the events ``erased`` says are erased (a plate erasure); never mutates it."""
    if state is None or not any(erased(r.event) for r in state.recent):
        return state
    keep = [i for i, r in enumerate(state.recent) if not erased(r.event)]
    tracks = dict(state.tracks)
    _forget(tracks, tuple(r for r in state.recent if erased(r.event)))
    return DedupState(
        tuple(state.recent[i] for i in keep),
        tuple(state.times[i] for i in keep),
        tuple(state.folded[i] for i in keep),
        tracks,
        state.watermark,
    )


def _forget(tracks: dict[str, str], gone: tuple[_Recent, ...]) -> None:
    """Drop the tracks of events leaving the state (``tracks`` is the caller's copy)."""
    for r in gone:
        for t, _ in r.tracks:
            if tracks.get(t) == r.event.event_id:
                del tracks[t]


def _find(
    recent: tuple[_Recent, ...],
    folded: tuple[str, ...],
    tracks: dict[str, str],
    candidate: PlateEvent,
    rules: DedupRules,
    window: timedelta,
) -> int | None:
    """Index of the recent event ``candidate`` merges into, or None."""
    same = tracks.get(_track(candidate))
    if same is not None:  # the same track again: always the same event
        for i in range(len(recent) - 1, -1, -1):  # its update usually follows it closely
            if recent[i].event.event_id == same:
                return i
    if not recent:
        return None
    # Prefilter in C on the folded plates (their distance never exceeds the real one).
    hits = process.extract(
        fold_confusions(candidate.plate),
        folded,
        scorer=Levenshtein.distance,
        score_cutoff=int(rules.max_distance),
        limit=None,
    )
    best: tuple[float, float, str, int] | None = None
    for _, _, i in hits:
        ev = recent[i].event
        gap = max(candidate.first_seen - ev.last_seen, ev.first_seen - candidate.last_seen, timedelta(0))
        if gap > window:
            continue
        d = plate_distance(candidate.plate, ev.plate, rules.confusion_cost, cutoff=rules.max_distance)
        if d > rules.max_distance:
            continue
        rank = (d, -ev.last_seen.timestamp(), ev.event_id, i)
        if best is None or rank < best:
            best = rank
    return None if best is None else best[3]


def _merge(r: _Recent, c: PlateEvent) -> _Recent:
    """``r`` with candidate ``c`` merged in (see the module doc)."""
    ev, track = r.event, _track(c)
    shares = dict(r.tracks)
    sightings = ev.sightings - shares.pop(track, 0) + c.sightings
    shares[track] = c.sightings
    tracks = tuple(shares.items())[-_MAX_TRACKS:]
    take = track == r.best_track or c.confidence > ev.confidence
    best = c if take else ev
    merged = replace(
        ev,
        plate=best.plate,
        plate_raw=best.plate_raw,
        confidence=best.confidence,
        region=best.region,
        frame_ts=best.frame_ts,
        crop_key=best.crop_key,
        crop_url=best.crop_url,
        vehicle=best.vehicle or ev.vehicle,
        last_seen=max(ev.last_seen, c.last_seen),
        sightings=max(1, sightings),
        provisional=ev.provisional and c.provisional,
    )
    return _Recent(merged, track if take else r.best_track, tracks)


def _track(event: PlateEvent) -> str:
    return f"{event.camera_id}:{event.track_id}"
