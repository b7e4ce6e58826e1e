"""``bench/flow.py --quick --json`` on a tiny run: real-size crops, what is swapped out, the contract keys."""

from __future__ import annotations

import pytest

from config.settings import Settings
from tests.bench.conftest import assert_numbers, run_bench

pytestmark = pytest.mark.integration

CONTRACT = (
    "crops_per_s_per_worker",
    "no_s3_crops_per_s_per_worker",
    "consume_decode_per_s",
    "p99_frame_to_alert_ms",
    "crop_bytes_mean",
    "ocr_crops_per_s_per_core",
    "real_ocr_crops_per_s_per_worker",
)


def test_quick_json_keeps_the_contract():
    result = run_bench("flow.py", "--crops", "1000", "--ocr-crops", "20", "--live-tracks", "5")
    assert_numbers(result, CONTRACT)
    assert result["ocr"] == "excluded" and result["latency_ocr"] == "excluded"
    default_engine = Settings().ocr.type
    assert result["real_ocr"] == result["ocr_engine"] == default_engine
    assert result["real_ocr_cascade"] is None and result["ocr_cascade"] is None  # every member reads every crop
    assert result["crop_bytes_mean"] > 1000, "crops must be real JPEGs, not placeholder bytes"
    assert result["alerts_received"] == result["alerts_expected"] == 5
    assert result["events_stored"] == result["n_tracks"] == 100
    # Every target names what it was measured on.
    assert result["targets_met"] and all("(" in name for name in result["targets_met"])
