"""``bench/edge.py --quick --json`` on a few frames: the contract keys of the edge benchmark."""

from __future__ import annotations

from tests.bench.conftest import assert_numbers, run_bench


def test_quick_json_keeps_the_contract():
    result = run_bench("edge.py", "--frames", "12")
    assert_numbers(result, ("fps_per_core_720p", "fps_per_core_1080p", "ratio_vs_decode"))
    assert result["frames"] == 12 and result["cores"] == 1
    for resolution in ("720p", "1080p"):
        assert_numbers(result["stages"][resolution], ("decode", "detect", "track", "edge"))
