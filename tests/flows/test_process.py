"""Process set-up: the collector's thresholds are raised once per process."""

from __future__ import annotations

import gc

from flows import process


def test_tune_gc_raises_the_thresholds_once(monkeypatch):
    before = gc.get_threshold()
    monkeypatch.setattr(process, "_done", False)
    try:
        process.tune_gc()
        assert gc.get_threshold() == process.GC_THRESHOLDS
        gc.set_threshold(*before)
        process.tune_gc()  # already done in this process: left alone
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*before)
