"""operators/ stays pure: no I/O or runtime imports, no wall clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

OPERATORS = Path(__file__).resolve().parents[2] / "operators"
ALLOWED_THIRD_PARTY = {"rapidfuzz", "numpy", "pydantic", "re2", "config", "operators"}
FORBIDDEN_STDLIB = {
    "socket",
    "subprocess",
    "urllib",
    "http",
    "asyncio",
    "threading",
    "time",
    "os",
    "io",
    "logging",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


@pytest.mark.parametrize("path", sorted(OPERATORS.glob("*.py")), ids=lambda p: p.name)
def test_module_is_pure(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    stdlib = set(sys.stdlib_module_names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {name}"
                assert top in stdlib or top == "__future__" or top in ALLOWED_THIRD_PARTY, f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_CALLS, f"{path.name}:{node.lineno} reads the clock ({node.func.attr})"
