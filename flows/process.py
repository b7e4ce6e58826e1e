"""The flow process's set-up, run once per process when the dataflow starts (:func:`start`):
logs, the ``/metrics`` endpoint and the collector's thresholds.

``flows.plates`` hands :func:`start` to its source, which calls it on every worker before the
first message (bytewax's ``list_parts``); importing or building the flow starts nothing.

GC tuning: the flow allocates a few small objects per crop (messages, dicts, records) and keeps
many long-lived ones (open tracks, dedup state): with CPython's default thresholds
(700, 10, 10) the cyclic garbage collector runs every few hundred crops and walks that
state again and again. Far rarer collections gave 10-20 % more crops/s (bench/flow.py,
no-S3 replay: ~10,400 -> ~12,100 crops/s, three runs each, 2-core machine). Reference
counting still frees almost everything at once; only reference cycles wait longer.
"""

from __future__ import annotations

import gc
import logging
import threading

from config.settings import Settings
from flows import metrics

log = logging.getLogger(__name__)

#: Collect generation 0 after this many net allocations of container objects (default 700).
GC_THRESHOLDS = (100_000, 50, 100)

_done = False
_lock = threading.Lock()


def tune_gc() -> None:
    """Raise the collector's thresholds to :data:`GC_THRESHOLDS` (once per process)."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        before = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        log.info("runtime: gc thresholds %s -> %s", before, GC_THRESHOLDS)


def start(settings: Settings) -> None:
    """Logs, ``/metrics`` and GC tuning for this process (idempotent: every worker calls it)."""
    from telemetry import logs

    logs.configure(settings.log)
    metrics.serve(settings.metrics)
    tune_gc()
