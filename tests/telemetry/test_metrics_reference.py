"""docs/metrics.md lists exactly the metrics the code exports (names of the edge, flow and API)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from prometheus_client import REGISTRY

from edge.metrics import EdgeMetrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
# Modules that define the flow's and the API's collectors (on the default registry).
MODULES = (
    "flows.metrics",
    "flows.sinks.postgres",
    "alerts.outbox",
    "flows.stall",
    "flows.crop_retries",
    "flows.erasures",
    "flows.sinks.kafka",
    "api.metrics",
    "bytewax.connectors.kafka",
)


def _exported() -> set[str]:
    for module in MODULES:
        importlib.import_module(module)
    names = set()
    for registry in (REGISTRY, EdgeMetrics().registry):
        for family in registry.collect():
            suffix = "_total" if family.type == "counter" else ""
            names.add(family.name + suffix)
    return {n for n in names if n.startswith(("alpr_", "bytewax_"))}


def _documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8").split("## Renamed")[0]
    return set(re.findall(r"`((?:alpr|bytewax)_[a-z_]+)`", text))


def test_every_exported_metric_is_documented_and_nothing_else() -> None:
    exported, documented = _exported(), _documented()
    assert exported - documented == set(), "exported but not in docs/metrics.md"
    assert documented - exported == set(), "in docs/metrics.md but not exported"
