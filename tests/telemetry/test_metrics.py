"""Process metrics and alpr_build_info on every process's registry."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from edge.metrics import EdgeMetrics
from telemetry.metrics import build_info, version


def test_the_edge_registry_has_process_metrics_build_info_and_zeroed_series() -> None:
    metrics = EdgeMetrics()  # the edge's own registry, as `alpr edge` makes it
    metrics.init_camera("gate-1")
    metrics.init_topics(["alpr.edge.crops"])
    text = generate_latest(metrics.registry).decode()
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
    assert "python_gc_collections_total" in text
    assert 'alpr_build_info{python="' in text and 'service="edge"' in text and f'version="{version()}"' in text
    for series in (
        'alpr_edge_camera_up{camera="gate-1"} 0.0',
        'alpr_edge_camera_reconnects_total{camera="gate-1"} 0.0',
        'alpr_edge_frames_dropped_total{camera="gate-1"} 0.0',
        'alpr_edge_publish_errors_total{topic="alpr.edge.crops"} 0.0',
        'alpr_edge_spool_dropped_total{topic="alpr.edge.crops"} 0.0',
    ):
        assert series in text, series


def test_a_test_registry_gets_no_process_collectors() -> None:
    registry = CollectorRegistry()
    EdgeMetrics(registry)
    assert "process_cpu_seconds_total" not in generate_latest(registry).decode()


def test_build_info_is_registered_once_per_registry() -> None:
    registry = CollectorRegistry()
    build_info("api", registry)
    build_info("api", registry)  # no "duplicated timeseries" error
    assert (
        registry.get_sample_value(
            "alpr_build_info",
            {
                "service": "api",
                "version": version(),
                "revision": "unknown",
                "python": __import__("platform").python_version(),
            },
        )
        == 1.0
    )
    assert REGISTRY.get_sample_value("process_cpu_seconds_total") is not None  # flow and API: default registry
