"""The ``watchlist`` step: plate events -> watchlist hits (one per matching entry).

:class:`WatchlistMatcher` matches an event against the current index (``index()`` may reload
it, :mod:`flows.watchlists`); :class:`Match` is the step; :func:`hits_only` is the ``vote``
step's filter for ``flow.provisional.publish: hits``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flows import metrics
from operators.records import PlateEvent, PlateRead, RejectedRead, WatchlistHit
from operators.watchlist import Watchlist


@dataclass(frozen=True)
class WatchlistMatcher:
    """``PlateEvent -> [WatchlistHit]`` against the current index (``index()`` may reload it).

    Expiry is judged at the event's newest sighting (event time).
    """

    index: Callable[[], Watchlist]

    def __call__(self, event: PlateEvent) -> list[WatchlistHit]:
        return self.index().hits(event, event.last_seen)


class Match:
    """``op.flat_map_batch`` mapper: ``[PlateEvent] -> [WatchlistHit]``; an update of an event
    re-raises the same ``alert_id``. Counts ``alpr_flow_step_items{step="watchlist_hits"}``."""

    def __init__(self, match: Callable[[PlateEvent], list[WatchlistHit]]) -> None:
        self.match = match
        self._hits = metrics.STEP_ITEMS.labels("watchlist_hits")

    def __call__(self, events: list[PlateEvent]) -> list[WatchlistHit]:
        match = self.match
        out = [h for e in events for h in match(e)]
        self._hits.inc(len(out))
        return out


def hits_only(match: Callable[[PlateEvent], list[WatchlistHit]]) -> Callable[[PlateRead | RejectedRead], bool]:
    """``flow.provisional.publish: hits``: keep final reads, and provisional reads that hit a watchlist.

    A provisional read exists for alert latency; the same track's final read always follows
    (idle gap, maximum duration or end of input), so one held back here loses nothing.
    """

    def keep(r: PlateRead | RejectedRead) -> bool:
        if not r.read.provisional:
            return True
        return type(r) is PlateRead and bool(match(PlateEvent.from_read(r)))  # noqa: E721

    return keep
