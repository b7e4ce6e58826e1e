"""Matching plates against watchlist entries.

:class:`Watchlist` is an index built once per reload of the watchlist tables; a lookup
costs microseconds for thousands of entries:

- ``exact``: a dict lookup of the normalised pattern.
- ``regex``: the pattern (precompiled by RE2, case-insensitive: linear time in the plate,
  see :mod:`operators.regex`) must match the whole normalised plate; entries are tried one
  by one, so keep them few.
- ``fuzzy``: confusion-aware edit distance (:func:`operators.normalise.plate_distance`,
  shared with dedup) at most ``max_distance``. Candidates come from a symmetric-delete
  index of the confusion-folded patterns (every string with up to ``max_distance``
  characters deleted): two strings within edit distance k share such a string, and
  folding never increases the distance, so no match is missed. Entries with
  ``max_distance`` above 2 are scanned with rapidfuzz instead.

Expired entries (``expires_at <= now``) never match. A fuzzy hit reports its distance
rounded up to an int (Avro ``distance``), so one confusable character counts 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from operators.normalise import compact, fold_confusions, plate_distance
from operators.records import PlateEvent, WatchlistEntry, WatchlistHit
from operators.regex import compile_plate_regex

__all__ = ["Watchlist", "match"]

_INDEXED_MAX = 2  # symmetric-delete index up to this distance; beyond, a linear scan


@cache
def _keepers(n: int, k: int) -> tuple[Callable[[str], object], ...]:
    """Getters of the characters kept by each way of deleting 1..k of n characters."""
    out: list[Callable[[str], object]] = []
    for d in range(1, min(k, n) + 1):
        for keep in itertools.combinations(range(n), n - d):
            out.append(itemgetter(*keep) if keep else _nothing)
    return tuple(out)


def _nothing(_: str) -> str:
    return ""


def _deletions(s: str, k: int) -> set[str]:
    """``s`` and every string made by deleting up to ``k`` of its characters."""
    join = "".join
    out = {join(g(s)) for g in _keepers(len(s), k)}  # type: ignore[arg-type]
    out.add(s)
    return out


class Watchlist:
    """An immutable index of watchlist entries; build it once per reload."""

    __slots__ = ("_confusion_cost", "_exact", "_fuzzy", "_index", "_max_k", "_regex", "_scan", "_scan_folded")

    def __init__(self, entries: Iterable[WatchlistEntry], *, confusion_cost: float = 0.5) -> None:
        """Index ``entries``; patterns of exact and fuzzy entries are normalised (compacted)."""
        exact: dict[str, list[WatchlistEntry]] = {}
        regex: list[tuple[Any, WatchlistEntry]] = []
        fuzzy: list[tuple[str, WatchlistEntry]] = []
        index: dict[str, list[int]] = {}
        scan: list[int] = []
        for e in entries:
            if e.match_type == "regex":
                regex.append((compile_plate_regex(e.pattern), e))
                continue
            pattern = compact(e.pattern)
            if not pattern:
                continue  # nothing a plate could equal
            if e.match_type == "exact" or e.max_distance == 0:
                exact.setdefault(pattern, []).append(e)
                continue
            n = len(fuzzy)
            fuzzy.append((pattern, e))
            if e.max_distance > _INDEXED_MAX:
                scan.append(n)
                continue
            for key in _deletions(fold_confusions(pattern), e.max_distance):
                index.setdefault(key, []).append(n)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._regex = tuple(regex)
        self._fuzzy = tuple(fuzzy)
        self._index = {k: tuple(v) for k, v in index.items()}
        self._max_k = max((e.max_distance for _, e in fuzzy if e.max_distance <= _INDEXED_MAX), default=0)
        self._scan = tuple(scan)
        self._scan_folded = tuple(fold_confusions(fuzzy[n][0]) for n in scan)
        self._confusion_cost = confusion_cost

    def __len__(self) -> int:
        return sum(len(v) for v in self._exact.values()) + len(self._regex) + len(self._fuzzy)

    def match(self, plate: str, now: datetime) -> list[tuple[WatchlistEntry, int]]:
        """Entries matching ``plate`` at ``now``, with their distance; closest first."""
        p = compact(plate)
        if not p:
            return []
        found: dict[int, tuple[WatchlistEntry, int]] = {}
        for e in self._exact.get(p, ()):
            found[e.entry_id] = (e, 0)
        for rx, e in self._regex:
            if rx.fullmatch(p) is not None:
                found[e.entry_id] = (e, 0)
        if self._fuzzy:
            for n in self._fuzzy_candidates(p):
                pattern, e = self._fuzzy[n]
                d = plate_distance(p, pattern, self._confusion_cost, cutoff=e.max_distance)
                if d <= e.max_distance:
                    dist = math.ceil(d - 1e-9)
                    if e.entry_id not in found or found[e.entry_id][1] > dist:
                        found[e.entry_id] = (e, dist)
        hits = [h for h in found.values() if not h[0].expired(now)]
        hits.sort(key=lambda h: (h[1], h[0].entry_id))
        return hits

    def hits(self, event: PlateEvent, now: datetime) -> list[WatchlistHit]:
        """:class:`WatchlistHit` records of ``event`` at ``now`` (event time); none for a no-plate event."""
        if event.no_plate:
            return []
        return [WatchlistHit(event, e, d) for e, d in self.match(event.plate, now)]

    def _fuzzy_candidates(self, plate: str) -> set[int]:
        folded = fold_confusions(plate)
        out: set[int] = set()
        if self._index:
            index = self._index
            for key in _deletions(folded, self._max_k):
                hit = index.get(key)
                if hit is not None:
                    out.update(hit)
        if self._scan:
            cutoff = max(self._fuzzy[n][1].max_distance for n in self._scan)
            for _, _, j in process.extract(
                folded, self._scan_folded, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=None
            ):
                out.add(self._scan[j])
        return out


def match(
    plate: str, entries: Iterable[WatchlistEntry], now: datetime, *, confusion_cost: float = 0.5
) -> list[tuple[WatchlistEntry, int]]:
    """One-off :meth:`Watchlist.match`; build a :class:`Watchlist` to match many plates."""
    return Watchlist(entries, confusion_cost=confusion_cost).match(plate, now)
