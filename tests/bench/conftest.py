"""Smoke runs of the benchmarks: ``--quick --json`` on tiny sizes, guarding each one's output contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout_s: float = 600) -> dict[str, Any]:
    """``python bench/SCRIPT --quick --json ARGS``: its one JSON object (stdout), or a failure with stderr."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def assert_numbers(result: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Each of ``keys`` is present and a positive number."""
    missing = [k for k in keys if k not in result]
    assert not missing, f"contract keys missing: {missing}"
    bad = {k: result[k] for k in keys if not isinstance(result[k], int | float) or result[k] <= 0}
    assert not bad, f"not positive numbers: {bad}"
