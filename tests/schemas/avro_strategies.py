"""Hypothesis strategies that build records matching an Avro schema (for round-trip properties)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

# Avro timestamp-millis round-trips at millisecond precision, in UTC. Hypothesis wants
# naive bounds and applies ``timezones`` itself.
_TIMESTAMPS = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))

_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=64),
    "string": st.text(max_size=20),
}


def records(schema_text: str) -> st.SearchStrategy[dict[str, Any]]:
    """Records of the record schema ``schema_text`` (named types resolved within it)."""
    named: dict[str, Any] = {}
    return _strategy(json.loads(schema_text), named, None)


def _strategy(schema: Any, named: dict[str, Any], namespace: str | None) -> st.SearchStrategy[Any]:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        full = schema if "." in schema else f"{namespace}.{schema}"
        return st.deferred(lambda: named[full])
    if isinstance(schema, list):
        return st.one_of([_strategy(branch, named, namespace) for branch in schema])
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return _TIMESTAMPS
    if kind in ("record", "enum"):
        namespace = schema.get("namespace", namespace)
        full = schema["name"] if "." in schema["name"] else f"{namespace}.{schema['name']}"
        if kind == "enum":
            strategy: st.SearchStrategy[Any] = st.sampled_from(schema["symbols"])
        else:
            fields = {f["name"]: _strategy(f["type"], named, namespace) for f in schema["fields"]}
            strategy = st.fixed_dictionaries(fields)
        named[full] = strategy
        return strategy
    if kind == "array":
        return st.lists(_strategy(schema["items"], named, namespace), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _strategy(schema["values"], named, namespace), max_size=4)
    return _strategy(kind, named, namespace)
