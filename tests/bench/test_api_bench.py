"""``bench/api.py --quick --json`` on a tiny run: the contract keys, measured with wrk, audit complete."""

from __future__ import annotations

import secrets
import shutil

import pytest

from db.connect import with_database
from tests.bench.conftest import assert_numbers, run_bench
from tests.bench.test_search_bench import KINDS
from tests.fixtures.database import drop_test_database

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_quick_json_keeps_the_contract(database_server_url):
    kept = f"alpr_test_bench_search_{secrets.token_hex(4)}"  # the search-latency database, kept by the bench
    try:
        result = run_bench(
            "api.py", "--rows", "3000", "--seconds", "1", "--levels", "1,2",
            "--search-rows", "3000", "--search-database", kept, "--search-url", database_server_url,
        )  # fmt: skip
        again = run_bench(
            "api.py", "--rows", "3000", "--seconds", "1", "--levels", "1",
            "--search-rows", "3000", "--search-database", kept, "--search-url", database_server_url,
        )  # fmt: skip
    finally:
        drop_test_database(with_database(database_server_url, kept))
    # Search latencies at scale (bench/search.py's report), on a database built once and reused.
    assert result["search_rows"] == 3000 and set(result["search_p99_ms"]) == set(KINDS)
    assert all(v > 0 for v in result["search_p99_ms"].values())
    assert result["search_at_scale"]["load_seconds"] > 0 and again["search_at_scale"]["load_seconds"] == 0
    assert again["search_rows"] == 3000 and set(again["search_p99_ms"]) == set(KINDS)
    assert_numbers(result, ("rps_at_p99_100ms", "raw_sql_rps_at_p99_100ms", "ratio_vs_raw_sql"))
    assert result["load_generator"].startswith("wrk")
    assert [lv["concurrency"] for lv in result["api"]] == [lv["concurrency"] for lv in result["raw_sql"]] == [1, 2]
    assert all(lv["errors"] == 0 and lv["requests"] > 0 for lv in result["api"] + result["raw_sql"])
    assert result["events_compared"] > 0  # both servers answered the same events
    # Production configuration: metrics and audit on, and no answered search without its audit row.
    assert result["server"]["metrics"] is True
    assert result["audit_rows_written"] >= result["api_searches_answered"] > 0
