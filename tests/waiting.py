"""Waiting for an observable state instead of sleeping and hoping (the suite runs on a loaded box)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout_s: float = 30.0, poll_s: float = 0.02) -> T:
    """Call ``check`` until it returns something truthy, and return that; fail naming ``what`` after
    ``timeout_s`` (a bound for a stuck state, not a guess at how long the work takes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {value!r})")
        time.sleep(poll_s)
