"""The dedup step: a bytewax ``StatefulLogic`` per key (camera or site) around :func:`operators.dedup.dedup`.

``op.stateful_map`` would do, but it deep-copies the state at every snapshot; the dedup state
(up to ``flow.dedup.max_events`` recent events per key) is immutable, so this logic hands it
to the snapshot as is. The key space is the set of cameras (or sites): bounded, so the
logic is always retained. The logic's clock (``now``, the wall clock by default) bounds the
event time the state trusts (:func:`operators.dedup.dedup`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bytewax.operators import StatefulLogic

from operators.dedup import DedupRules, DedupState, dedup
from operators.records import PlateEvent


class DedupLogic(StatefulLogic[PlateEvent, PlateEvent, DedupState]):
    """Emit each incoming event as a new event or as an update of a recent one."""

    def __init__(
        self,
        rules: DedupRules,
        resume: DedupState | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rules = rules
        self._state = resume
        self._now = now

    @classmethod
    def builder(cls, rules: DedupRules) -> Callable[[DedupState | None], DedupLogic]:
        """The ``op.stateful`` builder."""
        return lambda resume: cls(rules, resume)

    def on_item(self, value: PlateEvent) -> tuple[list[PlateEvent], bool]:
        self._state, event = dedup(self._state, value, self._rules, now=self._now())
        return [event], StatefulLogic.RETAIN

    def snapshot(self) -> DedupState:
        # DedupState is frozen all the way down: no copy needed.
        assert self._state is not None, "bytewax snapshots only retained logics"
        return self._state
