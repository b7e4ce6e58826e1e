"""The ``best_shot`` step, windowing: one bytewax ``StatefulBatchLogic`` per open track (key ``camera:track``).

It runs under ``op.stateful_batch``: bytewax hands it the track's crops of each input batch
in one call (a track's crops mostly arrive together), and the window state is rebuilt once per
batch rather than once per crop; the result is the same as taking the crops one at a time.

The logic drives the pure :mod:`operators.best_shot` buffer with event time. A track
closes when, in event time, it has been idle for ``flow.track_idle_s`` or open for
``flow.track_max_s``:

- a crop whose frame time is already past the close point closes the old pass first
  (the same track id seen again later starts a new window);
- otherwise nothing more may ever arrive on that key, so the close point is projected onto
  the processing clock from the arrival of the newest crop (as bytewax's ``EventClock``
  does for its watermark) and handed to ``notify_at``;
- the end of the input (replays, tests) closes every open track.

Optionally one provisional copy of the track is emitted early (enough crops, or one good
enough crop), so that a watchlist alert need not wait for the idle gap; the final one
follows when the track closes. The state is dropped when the track closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bytewax.operators import StatefulBatchLogic

from config.flow import FlowSettings
from flows import metrics
from operators.best_shot import TrackBuffer, add, close_at, should_close
from operators.records import PlateCrop

Clock = Callable[[], datetime]

#: Tracks (provisional and final copies) that left the step.
_LEFT = metrics.STEP_ITEMS.labels("best_shot")


def _system_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ClosedTrack:
    """The best crops of a track, to OCR and vote; ``provisional`` when the track is still open."""

    buffer: TrackBuffer
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """What the window logic needs from the settings."""

    idle_s: float
    max_s: float
    keep: int
    provisional: bool
    provisional_min_crops: int
    provisional_min_quality: float

    @classmethod
    def from_settings(cls, flow: FlowSettings) -> WindowConfig:
        """Read ``flow.track_*``, ``flow.best_shot.keep_crops`` and ``flow.provisional``."""
        return cls(
            idle_s=flow.track_idle_s,
            max_s=flow.track_max_s,
            keep=flow.best_shot.keep_crops,
            provisional=flow.provisional.enabled,
            provisional_min_crops=flow.provisional.min_crops,
            provisional_min_quality=flow.provisional.min_quality,
        )


@dataclass(frozen=True, slots=True)
class WindowState:
    """Snapshot of one open track: its buffer, when its newest crop arrived (processing
    time) and whether its provisional read went out."""

    buffer: TrackBuffer
    arrived: datetime
    provisional_sent: bool


class TrackWindow(StatefulBatchLogic[PlateCrop, ClosedTrack, WindowState]):
    """Window of one track; see the module docstring."""

    def __init__(self, config: WindowConfig, resume: WindowState | None = None, now: Clock = _system_utc) -> None:
        self._config = config
        self._now = now
        self._state = resume

    @classmethod
    def builder(cls, config: WindowConfig, now: Clock = _system_utc) -> Callable[[WindowState | None], TrackWindow]:
        """The ``op.stateful_batch`` builder."""
        return lambda resume: cls(config, resume, now)

    def on_batch(self, values: list[PlateCrop]) -> tuple[list[ClosedTrack], bool]:
        """Add the crops in order; a crop past the close point closes the pass before it."""
        c = self._config
        out: list[ClosedTrack] = []
        state = self._state
        buffer = state.buffer if state is not None else None
        sent = state.provisional_sent if state is not None else False
        for value in values:
            if buffer is not None and should_close(buffer, value.frame_ts, idle_s=c.idle_s, max_s=c.max_s):
                out.append(ClosedTrack(buffer))
                buffer, sent = None, False
            buffer = add(buffer, value, keep=c.keep)
            if (
                c.provisional
                and not sent
                and (buffer.n_crops >= c.provisional_min_crops or value.quality >= c.provisional_min_quality)
            ):
                out.append(ClosedTrack(buffer, provisional=True))
                sent = True
        if buffer is not None:
            self._state = WindowState(buffer, self._now(), sent)
        if out:
            _LEFT.inc(len(out))
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[list[ClosedTrack], bool]:
        return self._close()

    def on_eof(self) -> tuple[list[ClosedTrack], bool]:
        return self._close()

    def _close(self) -> tuple[list[ClosedTrack], bool]:
        state, self._state = self._state, None
        if state is None:
            return [], StatefulBatchLogic.DISCARD
        _LEFT.inc()
        return [ClosedTrack(state.buffer)], StatefulBatchLogic.DISCARD

    def notify_at(self) -> datetime | None:
        if self._state is None:
            return None
        buffer = self._state.buffer
        left = close_at(buffer, idle_s=self._config.idle_s, max_s=self._config.max_s) - buffer.last_seen
        return self._state.arrived + left

    def snapshot(self) -> WindowState:
        # WindowState and TrackBuffer are frozen: the live state is its own immutable copy.
        assert self._state is not None, "bytewax snapshots only retained logics"
        return self._state
