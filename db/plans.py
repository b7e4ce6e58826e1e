"""What a query plan does to plate_events: a summary of ``EXPLAIN (FORMAT JSON)`` output.

Pure (no database access): :func:`summarise_plan` walks the JSON plan and says which chunks or
partitions of plate_events are scanned, through which indexes, how many of them are compressed
chunks that get decompressed (and how many of those are filtered by bloom filters first), how
many are read sequentially (empty ones do not count), and how many subplans were pruned.
``indexes`` names each index once (per-chunk copies of a TimescaleDB index carry its name after a
chunk prefix); ``index_names`` are the names as planned, for a catalog look-up of their parents.
With ``EXPLAIN ANALYZE`` only the nodes that ran (loops > 0) count as scanned; the tests use it
to check that searches are served by indexes and prune by time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Chunk / partition prefixes of index names, so that per-chunk copies of an index read as one:
# _hyper_1_5_chunk_plate_events_plate_time_idx, plate_events_p2026_01_31_plate_first_seen_idx.
_PER_CHILD = re.compile(
    r"^(_hyper_\d+_\d+_chunk_|compress_hyper_\d+_\d+_chunk_|\d+_\d+_"
    r"|plate_events_p\d{4}_\d{2}_\d{2}(_\d{4})?_|plate_events_default_)"
)
_CHILD = re.compile(
    r"^(_hyper_\d+_\d+_chunk|compress_hyper_\d+_\d+_chunk|plate_events(_p\d{4}_\d{2}_\d{2}(_\d{4})?|_default)?)$"
)
_COMPRESSED = ("DecompressChunk", "ColumnarScan")
# Nodes that read a relation's rows (not TimescaleDB's ChunkAppend, which names the hypertable).
_SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan", "Tid Range Scan")


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """Scans of plate_events (the table, its chunks or partitions) in one plan."""

    relations_scanned: int
    compressed_scanned: int
    bloom_filtered: int
    seq_scanned: int
    indexes: tuple[str, ...]
    index_names: tuple[str, ...]
    subplans_removed: int
    node_types: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "relations_scanned": self.relations_scanned,
            "compressed_scanned": self.compressed_scanned,
            "bloom_filtered": self.bloom_filtered,
            "seq_scanned": self.seq_scanned,
            "indexes": list(self.indexes),
            "index_names": list(self.index_names),
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


def _read_rows(node: Mapping[str, Any]) -> bool:
    """True without ANALYZE, or when the scan met at least one row (empty partitions do not count)."""
    if "Actual Rows" not in node:
        return True
    return node["Actual Rows"] + node.get("Rows Removed by Filter", 0) > 0


def summarise_plan(explained: list[Mapping[str, Any]] | Mapping[str, Any]) -> PlanSummary:
    """Summarise ``EXPLAIN (FORMAT JSON)`` output (the list, or its first element)."""
    top = explained[0] if isinstance(explained, list) else explained
    nodes = list(_nodes(top["Plan"]))
    # Subplans and InitPlans (the corrections lookup) are children too: only plate_events counts.
    scans = [n for n in nodes if n["Node Type"] in _SCANS and _CHILD.match(n.get("Relation Name", "")) and _ran(n)]
    compressed = [n for n in nodes if n.get("Custom Plan Provider") in _COMPRESSED and _ran(n)]
    # A compressed chunk's DecompressChunk wraps a scan of its compress_hyper table: count it once.
    chunk_scans = {n["Relation Name"] for n in scans if not n["Relation Name"].startswith("compress_")}
    compressed_chunks = {n.get("Relation Name", "") for n in compressed}
    # Bitmap index scans name no relation: keep the indexes of plate_events' children by name.
    index_names = sorted(
        {
            n["Index Name"]
            for n in nodes
            if "Index Name" in n and _ran(n) and not n["Index Name"].startswith("plate_corrections")
        }
    )
    uncompressed = [n for n in scans if not n["Relation Name"].startswith("compress_")]
    return PlanSummary(
        relations_scanned=len(chunk_scans | compressed_chunks),
        compressed_scanned=len(compressed_chunks),
        bloom_filtered=sum(
            1 for n in scans if n["Relation Name"].startswith("compress_") and "bloom1_contains" in n.get("Filter", "")
        ),
        seq_scanned=sum(1 for n in uncompressed if n["Node Type"] == "Seq Scan" and _read_rows(n)),
        indexes=tuple(sorted({_PER_CHILD.sub("", name) for name in index_names})),
        index_names=tuple(index_names),
        subplans_removed=sum(int(n.get("Subplans Removed", 0)) for n in nodes),
        node_types=tuple(sorted({n["Node Type"] for n in nodes})),
    )
