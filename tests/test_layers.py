"""The house's layers: a package imports only packages below it, and no modules import each other in a circle.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import
hides a dependency from the reader, not from the design. ``operators/`` has its own, stricter
purity test (tests/operators/test_purity.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top; a package may import the packages of the layers below its own, never one of
#: its own layer or above (so edge/, flows/ and api/ never import each other).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"config"}),
    frozenset({"operators", "schemas", "telemetry", "storage"}),
    frozenset({"db"}),
    frozenset({"ocr", "alerts"}),
    frozenset({"edge", "flows", "api", "services"}),
    frozenset({"training", "alpr", "models"}),
    frozenset({"evaluate"}),
)
LAYER = {package: n for n, layer in enumerate(LAYERS) for package in layer}


def _packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(f): f for package in _packages() for f in (ROOT / package).rglob("*.py")}


def _imported_names(path: Path, module: str) -> Iterator[str]:
    """Every name an import statement of ``path`` names (``from a import b`` yields ``a.b``)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield f"{base}.{alias.name}"


def _graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (the longest prefix of each name that is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for name in _imported_names(path, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
        targets.discard(module)
        graph[module] = targets
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_package_has_a_layer() -> None:
    assert set(_packages()) - set(LAYER) == set(), "place the new package in LAYERS"


def test_no_package_imports_one_of_its_layer_or_above() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if (a := module.split(".")[0]) != (b := target.split(".")[0]) and LAYER[b] >= LAYER[a]
    )
    assert wrong == []


def test_api_does_not_import_flows() -> None:
    graph = _graph()
    assert sorted(f"{m} -> {t}" for m in graph if m.startswith("api.") for t in graph[m] if t.startswith("flows")) == []


def test_no_import_circle_between_modules() -> None:
    assert _circles(_graph()) == []


@pytest.mark.parametrize(
    ("graph", "circles"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_the_circle_finder_finds_circles(graph: dict[str, set[str]], circles: list[list[str]]) -> None:
    assert _circles(graph) == circles
