"""``bench/api.py --quick --json`` on a tiny run: the contract keys, measured with wrk, audit complete."""

from __future__ import annotations

import shutil

import pytest

from tests.bench.conftest import assert_numbers, run_bench

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_quick_json_keeps_the_contract():
    result = run_bench("api.py", "--rows", "3000", "--seconds", "1", "--levels", "1,2")
    assert_numbers(result, ("rps_at_p99_100ms", "raw_sql_rps_at_p99_100ms", "ratio_vs_raw_sql"))
    assert result["load_generator"].startswith("wrk")
    assert [lv["concurrency"] for lv in result["api"]] == [lv["concurrency"] for lv in result["raw_sql"]] == [1, 2]
    assert all(lv["errors"] == 0 and lv["requests"] > 0 for lv in result["api"] + result["raw_sql"])
    assert result["events_compared"] > 0  # both servers answered the same events
    # Production configuration: metrics and audit on, and no answered search without its audit row.
    assert result["server"]["metrics"] is True
    assert result["audit_rows_written"] >= result["api_searches_answered"] > 0
