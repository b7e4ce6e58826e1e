"""A sink wrapper measuring frame-to-sink latency (``alpr_flow_frame_to_*_seconds``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition
from prometheus_client import Histogram

from flows import metrics

T = TypeVar("T")


class _TimedPartition(StatelessSinkPartition[T]):
    def __init__(self, inner: StatelessSinkPartition[T], histogram: Histogram, frame_ts: Callable[[T], datetime]):
        self._inner = inner
        self._histogram = histogram
        self._frame_ts = frame_ts

    def write_batch(self, items: list[T]) -> None:
        self._inner.write_batch(items)
        metrics.observe_latency(self._histogram, (self._frame_ts(i) for i in items))

    def close(self) -> None:
        self._inner.close()


class TimedSink(DynamicSink[T]):
    """Wraps a ``DynamicSink``: after each batch is written, observe frame-to-now per item."""

    def __init__(self, inner: DynamicSink[T], histogram: Histogram, frame_ts: Callable[[T], datetime]) -> None:
        self._inner = inner
        self._histogram = histogram
        self._frame_ts = frame_ts

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TimedPartition[T]:
        return _TimedPartition(self._inner.build(step_id, worker_index, worker_count), self._histogram, self._frame_ts)


def timed(sink: Sink[T], histogram: Histogram, frame_ts: Callable[[T], datetime]) -> Sink[T]:
    """``sink`` measured with :class:`TimedSink` when it is a ``DynamicSink``, else as is."""
    if isinstance(sink, DynamicSink):
        return TimedSink(sink, histogram, frame_ts)
    return sink
