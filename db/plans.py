"""What a query plan does to plate_events: a summary of ``EXPLAIN (FORMAT JSON)`` output.

Pure (no database access): :func:`summarise_plan` walks the JSON plan and says which chunks or
partitions of plate_events are scanned, through which indexes, how many of them are compressed
chunks that get decompressed, how many are read sequentially, and how many subplans the planner
or executor pruned. With ``EXPLAIN ANALYZE`` only the nodes that ran (loops > 0) count as
scanned; the tests use it to check that searches are served by indexes and prune by time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Chunk / partition prefixes of index names, so that per-chunk copies of an index read as one:
# _hyper_1_5_chunk_plate_events_plate_time_idx, plate_events_p2026_01_31_plate_first_seen_idx.
_PER_CHILD = re.compile(
    r"^(_hyper_\d+_\d+_chunk_|compress_hyper_\d+_\d+_chunk_|plate_events_p\d{4}_\d{2}_\d{2}(_\d{4})?_|plate_events_default_)"
)
_CHILD = re.compile(r"^(_hyper_\d+_\d+_chunk|compress_hyper_\d+_\d+_chunk|plate_events(_p\d{4}_\d{2}_\d{2}(_\d{4})?|_default)?)$")
_COMPRESSED = ("DecompressChunk", "ColumnarScan")


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """Scans of plate_events (the table, its chunks or partitions) in one plan."""

    relations_scanned: int
    compressed_scanned: int
    seq_scanned: int
    indexes: tuple[str, ...]
    subplans_removed: int
    node_types: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "relations_scanned": self.relations_scanned,
            "compressed_scanned": self.compressed_scanned,
            "seq_scanned": self.seq_scanned,
            "indexes": list(self.indexes),
            "subplans_removed": self.subplans_removed,
            "node_types": list(self.node_types),
        }


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _ran(node: Mapping[str, Any]) -> bool:
    """True without ANALYZE (no loop counts) or when the node ran at least once."""
    return node.get("Actual Loops", 1) > 0


def summarise_plan(explained: list[Mapping[str, Any]] | Mapping[str, Any]) -> PlanSummary:
    """Summarise ``EXPLAIN (FORMAT JSON)`` output (the list, or its first element)."""
    top = explained[0] if isinstance(explained, list) else explained
    nodes = list(_nodes(top["Plan"]))
    # Subplans and InitPlans (the corrections lookup) are children too: only plate_events counts.
    scans = [n for n in nodes if _CHILD.match(n.get("Relation Name", "")) and _ran(n)]
    compressed = [
        n for n in nodes if n.get("Custom Plan Provider") in _COMPRESSED and _ran(n)
    ]
    # A compressed chunk's DecompressChunk wraps a scan of its compress_hyper table: count it once.
    chunk_scans = {n["Relation Name"] for n in scans if not n["Relation Name"].startswith("compress_")}
    compressed_chunks = {n.get("Relation Name", "") for n in compressed}
    indexes = sorted(
        {_PER_CHILD.sub("", n["Index Name"]) for n in scans if "Index Name" in n}
    )
    return PlanSummary(
        relations_scanned=len(chunk_scans | compressed_chunks),
        compressed_scanned=len(compressed_chunks),
        seq_scanned=sum(1 for n in scans if n["Node Type"] == "Seq Scan"),
        indexes=tuple(indexes),
        subplans_removed=sum(int(n.get("Subplans Removed", 0)) for n in nodes),
        node_types=tuple(sorted({n["Node Type"] for n in nodes})),
    )
