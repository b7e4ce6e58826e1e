"""``bench/search.py --quick --json`` on a tiny run, on each storage path: the report's contract."""

from __future__ import annotations

import pytest

from tests.bench.conftest import run_bench
from tests.db.conftest import STORAGE_PATHS

pytestmark = pytest.mark.integration

KINDS = ("exact", "prefix", "fuzzy", "camera_day", "exact_7d", "fuzzy_7d")


@pytest.mark.parametrize("path", STORAGE_PATHS)
def test_quick_json_keeps_the_contract(request, database_server_url, path):
    server = request.getfixturevalue("timescale_server_url") if path == "timescaledb" else database_server_url
    storage = "timescaledb" if path == "timescaledb" else "auto"
    result = run_bench(
        "search.py", "--url", server, "--storage", storage, "--rows", "20000", "--days", "10",
        "--samples", "5", "--budget-s", "2",
    )  # fmt: skip
    assert result["rows"] == 20_000 and (result["storage"] == "timescaledb") == (path == "timescaledb")
    assert set(result["searches"]) == set(KINDS) == set(result["plans"])
    for kind in KINDS:
        assert result["searches"][kind]["samples"] >= 5 and result["searches"][kind]["p99_ms"] > 0
        assert result["plans"][kind]["relations_scanned"] >= 1  # plans themselves: tests/db/test_search_plans.py
    assert result["searches"]["camera_day"]["with_rows"] == 5  # every camera has reads every day
    assert result["disk"]["mb_per_million_reads"] > 0
    # A bulk load: triggers off, then the plate dictionary rebuilt once (db/bulk.py).
    assert result["load_with_triggers"] is False and result["dictionary_rebuild_seconds"] >= 0
    if path == "timescaledb":
        assert result["chunks_compressed"] == 3 and result["disk"]["compression_ratio"] > 1
    expiry = result["retention"]
    assert expiry["rolled_back"] and expiry["units_dropped"] >= 4 and expiry["rows_after"] < expiry["rows_before"]
