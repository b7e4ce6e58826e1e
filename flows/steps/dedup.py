"""The ``dedup`` step: a bytewax ``StatefulLogic`` per key (camera or site) around :func:`operators.dedup.dedup`.

``op.stateful_map`` would do, but it deep-copies the state at every snapshot; the dedup state
(up to ``flow.dedup.max_events`` recent events per key) is immutable, so this logic hands it
to the snapshot as is. The key space is the set of cameras (or sites): bounded, so the
logic is always retained. The logic's clock (``now``, the wall clock by default) bounds the
event time the state trusts (:func:`operators.dedup.dedup`).

With ``erased`` (the current :class:`~operators.erasure.ErasedPlates`, :mod:`flows.erasures`),
the state forgets an erased plate as soon as the erasure is known, and an event of an erased
plate seen at or before its erasure is dropped (in flight, or replayed after a restart); a
later sighting is a new event.

:func:`unkey` (step ``unkey_dedup``) then drops the key: the flow's plate events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bytewax.operators import StatefulLogic

from flows import metrics
from flows.erasures import ERASED_DROPPED
from operators.dedup import DedupRules, DedupState, dedup, forget
from operators.erasure import ErasedPlates
from operators.records import PlateEvent

Erased = Callable[[], ErasedPlates]

#: Plate events (new ones and updates) that left dedup.
_EVENTS = metrics.STEP_ITEMS.labels("events")


@dataclass(frozen=True)
class DedupConfig:
    """What the step is built from: the rules and, optionally, the plates erased so far
    (:mod:`flows.erasures`) and ``discard_crop(crop_key)``, which deletes the crop of a dropped event."""

    rules: DedupRules
    erased: Erased | None = None
    discard_crop: Callable[[str], None] | None = None


def unkey(items: list[tuple[str, PlateEvent]]) -> list[PlateEvent]:
    """``op.flat_map_batch`` mapper: ``[(key, PlateEvent)] -> [PlateEvent]``, counted as ``events``."""
    _EVENTS.inc(len(items))
    return [v for _, v in items]


class DedupLogic(StatefulLogic[PlateEvent, PlateEvent, DedupState]):
    """Emit each incoming event as a new event or as an update of a recent one."""

    def __init__(
        self,
        rules: DedupRules,
        resume: DedupState | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        erased: Erased | None = None,
        discard: Callable[[str], None] | None = None,
    ) -> None:
        self._rules = rules
        self._discard = discard
        self._state = resume
        self._now = now
        self._erased = erased
        self._erased_version = -1

    @classmethod
    def builder(cls, config: DedupConfig) -> Callable[[DedupState | None], DedupLogic]:
        """The ``op.stateful`` builder."""
        return lambda resume: cls(config.rules, resume, erased=config.erased, discard=config.discard_crop)

    def on_item(self, value: PlateEvent) -> tuple[list[PlateEvent], bool]:
        if self._erased is not None:
            erased = self._erased()
            if erased.at:
                if erased.version != self._erased_version:
                    before = 0 if self._state is None else len(self._state)
                    self._state = forget(self._state, lambda e: erased.covers(e.plate, e.first_seen))
                    self._erased_version = erased.version
                    ERASED_DROPPED.labels("dedup_state").inc(before - (0 if self._state is None else len(self._state)))
                if erased.covers(value.plate, value.first_seen):
                    ERASED_DROPPED.labels("event").inc()
                    if value.crop_key is not None and self._discard is not None:
                        self._discard(value.crop_key)  # uploaded before the step learnt of the erasure
                    return [], StatefulLogic.RETAIN
        self._state, event = dedup(self._state, value, self._rules, now=self._now())
        return [event], StatefulLogic.RETAIN

    def snapshot(self) -> DedupState:
        # DedupState is frozen all the way down: no copy needed. A state emptied by an erasure
        # before its first event is an empty state.
        return self._state if self._state is not None else DedupState((), (), (), {}, datetime(1970, 1, 1, tzinfo=UTC))
