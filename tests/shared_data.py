"""Where the tests find the third-party evaluation data (``../shared/data``; never copied here).

``ALPR_SHARED_DATA`` points elsewhere (``training.data.DATA_ROOT`` reads the same variable), e.g.
at an empty folder to check that CI fails without the data: tests that need a data set call
:func:`require_data`, which skips with the missing path, and ``ALPR_TESTS_REQUIRE_ALL=1`` turns
that skip into an error (tests/skip_policy.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("ALPR_SHARED_DATA") or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")


def require_data(*files: str) -> Path:
    """:data:`SHARED_DATA` when each of ``files`` (relative to it) exists; else the test skips."""
    for name in files or ("README.md",):
        if not (SHARED_DATA / name).is_file():
            pytest.skip(f"evaluation data missing: {SHARED_DATA / name} (../shared/data or $ALPR_SHARED_DATA)")
    return SHARED_DATA
