"""Flow metrics: the endpoint serves once per process, latencies are observed from frame time."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import Histogram

from config.settings import MetricsSettings
from flows import metrics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serves_flow_metrics_once_per_process(monkeypatch):
    monkeypatch.setattr(metrics, "_server_port", None)
    port = free_port()
    cfg = MetricsSettings(flow_port=port)
    assert metrics.serve(cfg) == port
    assert metrics.serve(cfg.model_copy(update={"flow_port": free_port()})) == port  # already serving
    metrics.counted("decode")("plates.decode", object())
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for name in (
        'alpr_flow_step_items_total{step="decode"}',
        "alpr_flow_dead_letters_total",
        "alpr_flow_ocr_crop_duration_seconds_bucket",
        "alpr_flow_frame_to_db_seconds_bucket",
        "alpr_flow_frame_to_alert_seconds_bucket",
    ):
        assert name in body, name


def test_disabled_metrics_serve_nothing():
    assert metrics.serve(MetricsSettings(enabled=False)) is None


@pytest.mark.parametrize(
    ("ages_s", "expected_sum"),
    [([], 0.0), ([0.25, 1.5], 1.75), ([-3.0], 0.0)],  # a frame "from the future" (clock skew) counts 0
)
def test_latency_is_now_minus_frame_time(ages_s, expected_sum):
    h = Histogram(f"test_latency_{len(ages_s)}_{int(expected_sum * 100)}", "test", registry=None)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    metrics.observe_latency(h, [now - timedelta(seconds=a) for a in ages_s], now)
    assert h._sum.get() == pytest.approx(expected_sum)
