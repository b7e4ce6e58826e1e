"""Avro schemas of every topic value, one ``.avsc`` file per record.

The files are the contract between the edge, the flow and downstream consumers (see
docs/architecture.md). Load them by file stem with :func:`load_schema`; the schema for a
topic setting is ``load_schema(TOPIC_SCHEMAS["crops"])``. Codecs speaking the Confluent
wire format live in :mod:`schemas.serde`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["SCHEMA_NAMES", "TOPIC_SCHEMAS", "load_schema"]

#: Field of ``config.settings.TopicSettings`` -> schema file stem of that topic's values.
TOPIC_SCHEMAS: dict[str, str] = {
    "crops": "plate_crop",
    "detections": "track_event",
    "plates": "plate_event",
    "alerts": "watchlist_alert",
    "dead_letter": "dead_letter",
}

#: Every schema shipped in this package.
SCHEMA_NAMES: tuple[str, ...] = tuple(TOPIC_SCHEMAS.values())


@cache
def load_schema(name: str) -> str:
    """Return the Avro schema text of ``schemas/<name>.avsc``.

    Raises ``KeyError`` naming the known schemas when ``name`` is not one of them.
    """
    if name not in SCHEMA_NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.avsc").read_text(encoding="utf-8")
