"""The consumer-stall alarm: a partition with lag that consumes nothing for ``stall_s`` seconds.

A consumer can stop receiving data without any error: Tansu with S3 storage answers a fetch
whose ``fetch.wait.max.ms`` is shorter than its read time with nothing, again and again (issue
12, defect 1). :class:`StallWatch` is told, per poll, how many messages came and the partition's
lag (from librdkafka's statistics, once a second); when the lag stays above zero and nothing
comes for ``stall_s`` seconds it says so once per stall: the source logs a warning, counts
``alpr_flow_consumer_stalls_total``, sets ``alpr_flow_consumer_stalled{partition}`` to 1 and
reopens its consumer with a longer fetch wait. Tansu's high watermark can be lower than the
real end of a partition (when producers batch), so a stall near the end of the data may go
unseen; it never raises a false alarm on an idle partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

STALLS = Counter(
    "alpr_flow_consumer_stalls", "Times a crops partition had lag but consumed nothing for flow.input.stall_alarm_s."
)
STALLED = Gauge(
    "alpr_flow_consumer_stalled", "1 while a crops partition is stalled (lag, nothing consumed).", ["partition"]
)


class StallWatch:
    """Tracks one partition; :meth:`observe` returns True when a stall starts."""

    def __init__(self, partition: str, stall_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.partition = partition
        self.stall_s = stall_s
        self._clock = clock
        self._progress = clock()
        self._lag: int | None = None
        self.stalled = False

    def lag(self, lag: int) -> None:
        """The partition's lag, as the broker last reported it."""
        self._lag = lag

    def observe(self, consumed: int) -> bool:
        """One poll that returned ``consumed`` messages; True when a stall starts now."""
        now = self._clock()
        if consumed or not self._lag or self._lag <= 0:  # progress, or nothing to consume
            self._progress = now
            if self.stalled:
                self.stalled = False
                STALLED.labels(self.partition).set(0)
            return False
        if self.stalled or now - self._progress < self.stall_s:
            return False
        self.stalled = True
        STALLS.inc()
        STALLED.labels(self.partition).set(1)
        return True

    @property
    def stalled_for(self) -> float:
        """Seconds since the last progress."""
        return self._clock() - self._progress
