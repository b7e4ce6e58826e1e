"""db.plans.summarise_plan on hand-written EXPLAIN (FORMAT JSON) trees of both storage paths."""

from __future__ import annotations

from typing import Any

import pytest

from db.plans import summarise_plan


def _scan(node: str, relation: str, *, loops: int = 1, rows: int = 1, removed: int = 0, **extra: Any) -> dict:
    return {"Node Type": node, "Relation Name": relation, "Actual Loops": loops, "Actual Rows": rows,
            "Rows Removed by Filter": removed, **extra}  # fmt: skip


def _plan(*children: dict, top: str = "Append", **extra: Any) -> list[dict]:
    return [{"Plan": {"Node Type": "Limit", "Plans": [{"Node Type": top, "Plans": list(children), **extra}]}}]


def test_empty_plan_scans_nothing():
    summary = summarise_plan(_plan())
    assert (summary.relations_scanned, summary.seq_scanned, summary.indexes) == (0, 0, ())


def test_partition_index_scans_count_once_per_partition_and_name_the_index_once():
    plan = _plan(
        *(
            _scan("Index Scan", f"plate_events_p2026_01_{d}",
                  **{"Index Name": f"plate_events_p2026_01_{d}_plate_first_seen_idx"})
            for d in (30, 31)
        ),  # fmt: skip
        _scan("Seq Scan", "plate_events_default", rows=0),  # empty: not a sequential read
        _scan("Seq Scan", "plate_corrections"),  # another table: ignored
        **{"Subplans Removed": 5},
    )  # fmt: skip
    summary = summarise_plan(plan)
    assert summary.relations_scanned == 3
    assert summary.seq_scanned == 0
    assert summary.indexes == ("plate_first_seen_idx",)
    assert summary.subplans_removed == 5


def test_compressed_chunks_and_their_bloom_filters():
    compressed = {
        "Node Type": "Custom Scan",
        "Custom Plan Provider": "ColumnarScan",
        "Relation Name": "_hyper_1_5_chunk",
        "Actual Loops": 1,
        "Plans": [_scan("Seq Scan", "compress_hyper_2_95_chunk",
                        Filter="_timescaledb_functions.bloom1_contains(_ts_meta_v2_bloomh_plate, 'AB12CDE'::text)")],
    }  # fmt: skip
    plan = _plan(
        compressed,
        _scan("Index Scan", "_hyper_1_90_chunk", **{"Index Name": "_hyper_1_90_chunk_plate_events_plate_time_idx"}),
        _scan("Seq Scan", "_hyper_1_91_chunk", removed=372),  # read and filtered: a sequential read
        {"Node Type": "Custom Scan", "Custom Plan Provider": "ChunkAppend", "Relation Name": "plate_events"},
        top="Custom Scan",
    )
    summary = summarise_plan(plan)
    assert summary.relations_scanned == 3  # the ChunkAppend names the hypertable: not a scan
    assert (summary.compressed_scanned, summary.bloom_filtered, summary.seq_scanned) == (1, 1, 1)
    assert summary.indexes == ("plate_events_plate_time_idx",)


@pytest.mark.parametrize("loops", [0, None])
def test_nodes_that_never_ran_do_not_count_with_analyze(loops):
    node = _scan("Index Scan", "_hyper_1_1_chunk", **{"Index Name": "1_1_plate_events_pkey"})
    if loops is None:  # plain EXPLAIN: no loop counts, every planned scan counts
        for key in ("Actual Loops", "Actual Rows", "Rows Removed by Filter"):
            node.pop(key)
    else:
        node["Actual Loops"] = loops
    summary = summarise_plan(_plan(node))
    assert summary.relations_scanned == (0 if loops == 0 else 1)
    assert summary.indexes == (() if loops == 0 else ("plate_events_pkey",))
