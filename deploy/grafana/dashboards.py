"""Build the Grafana dashboards of deploy/grafana/dashboards/ from the panel lists below.

    python deploy/grafana/dashboards.py          # rewrite the JSON files
    python deploy/grafana/dashboards.py --check  # exit 1 when a JSON file differs from this source

Every query uses only metric names the code exports (edge/metrics.py, flows/metrics.py,
flows/sinks/*.py, api/metrics.py, telemetry/metrics.py, bytewax's Kafka source) and the job names
of deploy/prometheus/prometheus.yml. tests/deploy/test_compose_commands.py runs every query
against a real Prometheus scraping the real edge, flow and API processes and fails on a query
that errors or returns no data, so a renamed metric breaks the build, not the dashboard. Grafana
variables used: ``$camera`` (edge) and ``$__rate_interval``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
W = "$__rate_interval"


@dataclass(frozen=True)
class Q:
    """One query of a panel: PromQL and its legend."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    """A panel: title, queries, unit, kind (timeseries, stat or table), width in grid columns."""

    title: str
    queries: tuple[Q, ...]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    description: str = ""


@dataclass(frozen=True)
class Row:
    """A titled row of panels."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: uid (file name), title, rows, template variables."""

    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[dict[str, Any], ...] = field(default=())


def rate(metric: str, by: str = "", where: str = "") -> str:
    """``sum by (by) (rate(metric{where}[$__rate_interval]))``."""
    sel = f"{metric}{{{where}}}" if where else metric
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({sel}[{W}]))"


def quantile(q: float, histogram: str, by: str = "", where: str = "") -> str:
    """``histogram_quantile(q, sum by (le, by) (rate(histogram_bucket{where}[$__rate_interval])))``."""
    sel = f"{histogram}_bucket{{{where}}}" if where else f"{histogram}_bucket"
    grouping = ", ".join(x for x in ("le", by) if x)
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({sel}[{W}])))"


def latency(histogram: str, by: str = "", where: str = "", legend: str = "") -> tuple[Q, ...]:
    """p50 and p95 of a histogram (seconds)."""
    suffix = f" {legend}" if legend else ""
    return (
        Q(quantile(0.5, histogram, by, where), f"p50{suffix}"),
        Q(quantile(0.95, histogram, by, where), f"p95{suffix}"),
    )


def process(job: str) -> Row:
    """CPU, memory and GC of one of the platform's processes."""
    sel = f'job="{job}"'
    return Row(
        "Process",
        (
            Panel(
                "CPU (cores)", (Q(f"rate(process_cpu_seconds_total{{{sel}}}[{W}])", "{{instance}}"),), "short", width=8
            ),
            Panel("Resident memory", (Q(f"process_resident_memory_bytes{{{sel}}}", "{{instance}}"),), "bytes", width=8),
            Panel(
                "Python GC collections /s",
                (
                    Q(
                        f"sum by (instance, generation) (rate(python_gc_collections_total{{{sel}}}[{W}]))",
                        "{{instance}} gen {{generation}}",
                    ),
                ),
                "ops",
                width=8,
            ),
        ),
    )


CAMERA = {
    "name": "camera",
    "label": "Camera",
    "type": "query",
    "datasource": DATASOURCE,
    "query": {"query": "label_values(alpr_edge_camera_up, camera)", "refId": "camera"},
    "definition": "label_values(alpr_edge_camera_up, camera)",
    "refresh": 2,
    "multi": True,
    "includeAll": True,
    "allValue": ".*",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "sort": 1,
}
CAM = 'camera=~"$camera"'

OVERVIEW = Dashboard(
    "alpr-overview",
    "ALPR / Overview",
    "The whole path at a glance: cameras, crops, the flow, storage, alerts and the API.",
    (
        Row(
            "Health",
            (
                Panel("Processes up", (Q('sum by (job) (up{job=~"alpr-.*"})', "{{job}}"),), kind="stat", width=8),
                Panel(
                    "Cameras streaming / configured",
                    (Q("sum(alpr_edge_camera_up)", "streaming"), Q("count(alpr_edge_camera_up)", "configured")),
                    kind="stat",
                    width=8,
                ),
                Panel(
                    "Builds running",
                    (Q("alpr_build_info", "{{service}} {{version}} ({{revision}})", instant=True),),
                    kind="table",
                    width=8,
                ),
            ),
        ),
        Row(
            "Path",
            (
                Panel(
                    "Crops published /s (edge)",
                    (Q(rate("alpr_edge_crops_published_total", "instance"), "{{instance}}"),),
                    "ops",
                ),
                Panel(
                    "Plate events /s (flow)",
                    (Q(rate("alpr_flow_step_items_total", where='step="events"'), "events"),),
                    "ops",
                ),
                Panel(
                    "Frame to database / to alert (p95)",
                    (
                        Q(quantile(0.95, "alpr_flow_frame_to_db_seconds"), "frame -> database"),
                        Q(quantile(0.95, "alpr_flow_frame_to_alert_seconds"), "frame -> alert stored"),
                        Q(quantile(0.95, "alpr_flow_frame_to_alert_delivered_seconds"), "frame -> alert delivered"),
                    ),
                    "s",
                ),
                Panel(
                    "Kafka consumer lag (messages)", (Q("sum by (topic) (bytewax_kafka_consumer_lag)", "{{topic}}"),)
                ),
                Panel(
                    "Dead letters /s",
                    (Q(rate("alpr_flow_dead_letters_total", "step, error_type"), "{{step}} {{error_type}}"),),
                    "ops",
                ),
                Panel(
                    "Alert deliveries /s",
                    (Q(rate("alpr_flow_alert_deliveries_total", "outcome"), "{{outcome}}"),),
                    "ops",
                ),
                Panel("API requests /s", (Q(rate("alpr_api_requests_total", "code"), "{{code}}"),), "reqps"),
                Panel(
                    "Edge spool",
                    (Q("sum by (instance) (alpr_edge_spool_messages)", "{{instance}} messages"),),
                    description="Messages waiting on the edge's disk for the broker (0 when Kafka keeps up).",
                ),
            ),
        ),
    ),
)

EDGE = Dashboard(
    "alpr-edge",
    "ALPR / Edge",
    "Cameras, detection and tracking, crops, publishing to Kafka and the disk spool of each edge node.",
    (
        Row(
            "Cameras",
            (
                Panel("Camera up", (Q(f"alpr_edge_camera_up{{{CAM}}}", "{{camera}}"),), width=8),
                Panel(
                    "Frames processed /s (fps)",
                    (Q(rate("alpr_edge_frames_processed_total", "camera", CAM), "{{camera}}"),),
                    "fps",
                    width=8,
                ),
                Panel(
                    "Frames read /s",
                    (Q(rate("alpr_edge_frames_read_total", "camera", CAM), "{{camera}}"),),
                    "fps",
                    width=8,
                ),
                Panel(
                    "Dropped frames /s",
                    (Q(rate("alpr_edge_frames_dropped_total", "camera", CAM), "{{camera}}"),),
                    "fps",
                    width=8,
                    description="Frames skipped by live pacing (the pipeline is slower than the camera).",
                ),
                Panel(
                    "Bad frames /s",
                    (Q(rate("alpr_edge_frames_bad_total", "camera", CAM), "{{camera}}"),),
                    "fps",
                    width=8,
                ),
                Panel(
                    "Reconnects",
                    (Q(f"sum by (camera) (increase(alpr_edge_camera_reconnects_total{{{CAM}}}[{W}]))", "{{camera}}"),),
                    width=8,
                ),
            ),
        ),
        Row(
            "Detection and tracking",
            (
                Panel(
                    "Stage latency p95",
                    (Q(quantile(0.95, "alpr_edge_stage_duration_seconds", "stage", CAM), "{{stage}}"),),
                    "s",
                    width=8,
                ),
                Panel("Open tracks", (Q(f"alpr_edge_tracks_active{{{CAM}}}", "{{camera}}"),), width=8),
                Panel(
                    "Tracks started /s",
                    (Q(rate("alpr_edge_tracks_started_total", "camera", CAM), "{{camera}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Crops published /s",
                    (Q(rate("alpr_edge_crops_published_total", "camera", CAM), "{{camera}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Frames that failed /s",
                    (Q(rate("alpr_edge_pipeline_errors_total", "camera", CAM), "{{camera}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Looks inside vehicles /s",
                    (Q(rate("alpr_edge_plate_looks_total", "result", CAM), "{{result}}"),),
                    "ops",
                    width=8,
                ),
            ),
        ),
        Row(
            "Publishing",
            (
                Panel(
                    "Delivered to Kafka /s",
                    (Q(rate("alpr_edge_messages_delivered_total", "topic"), "{{topic}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Publish errors /s",
                    (Q(rate("alpr_edge_publish_errors_total", "topic"), "{{topic}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Dropped, spool full /s",
                    (Q(rate("alpr_edge_spool_dropped_total", "topic"), "{{topic}}"),),
                    "ops",
                    width=8,
                ),
                Panel("Spool messages", (Q("alpr_edge_spool_messages", "{{instance}}"),)),
                Panel(
                    "Spool size",
                    (
                        Q("alpr_edge_spool_bytes", "{{instance}} used"),
                        Q("alpr_edge_spool_limit_bytes", "{{instance}} limit"),
                    ),
                    "bytes",
                ),
            ),
        ),
        process("alpr-edge"),
    ),
    (CAMERA,),
)

FLOW = Dashboard(
    "alpr-flow",
    "ALPR / Flow",
    "The plates dataflow: steps, OCR, latency to the database and the alert channels, Kafka lag, "
    "dead letters, rejected reads, database writes and alert deliveries.",
    (
        Row(
            "Steps",
            (
                Panel("Items out of each step /s", (Q(rate("alpr_flow_step_items_total", "step"), "{{step}}"),), "ops"),
                Panel(
                    "Kafka consumer lag by partition",
                    (Q("sum by (topic, partition) (bytewax_kafka_consumer_lag)", "{{topic}} [{{partition}}]"),),
                ),
            ),
        ),
        Row(
            "OCR",
            (
                Panel("OCR time per crop", latency("alpr_flow_ocr_crop_duration_seconds"), "s", width=8),
                Panel("OCR time per engine call", latency("alpr_flow_ocr_batch_duration_seconds"), "s", width=8),
                Panel(
                    "Crops per engine call / failures /s",
                    (
                        Q(
                            f"sum(rate(alpr_flow_ocr_batch_size_sum[{W}]))"
                            f" / sum(rate(alpr_flow_ocr_batch_size_count[{W}]))",
                            "mean batch",
                        ),
                        Q(rate("alpr_flow_ocr_failures_total"), "failures /s"),
                    ),
                    width=8,
                ),
            ),
        ),
        Row(
            "Latency from the frame",
            (
                Panel("Frame to database", latency("alpr_flow_frame_to_db_seconds"), "s", width=8),
                Panel("Frame to alert stored", latency("alpr_flow_frame_to_alert_seconds"), "s", width=8),
                Panel(
                    "Frame to alert delivered (p95)",
                    (Q(quantile(0.95, "alpr_flow_frame_to_alert_delivered_seconds", "channel"), "{{channel}}"),),
                    "s",
                    width=8,
                ),
            ),
        ),
        Row(
            "Outcomes",
            (
                Panel(
                    "Dead letters /s by step and error",
                    (Q(rate("alpr_flow_dead_letters_total", "step, error_type"), "{{step}} {{error_type}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Rejected reads /s by reason",
                    (Q(rate("alpr_flow_rejected_reads_total", "reason"), "{{reason}}"),),
                    "ops",
                    width=8,
                ),
                Panel(
                    "Alert deliveries /s",
                    (Q(rate("alpr_flow_alert_deliveries_total", "channel, outcome"), "{{channel}} {{outcome}}"),),
                    "ops",
                    width=8,
                ),
            ),
        ),
        Row(
            "Database",
            (
                Panel("Rows written /s", (Q(rate("alpr_flow_db_rows_total", "table"), "{{table}}"),), "ops", width=8),
                Panel(
                    "Retried attempts /s", (Q(rate("alpr_flow_db_retries_total", "sink"), "{{sink}}"),), "ops", width=8
                ),
                Panel(
                    "Rows refused /s (dead-lettered)",
                    (Q(rate("alpr_flow_db_refused_rows_total", "table"), "{{table}}"),),
                    "ops",
                    width=8,
                ),
            ),
        ),
        process("alpr-flow"),
    ),
)

ERRORS = 'code=~"5.."'
API = Dashboard(
    "alpr-api",
    "ALPR / API",
    "The query API: request rate by route and status code, server errors, latency.",
    (
        Row(
            "Requests",
            (
                Panel(
                    "Requests /s by route",
                    (Q(rate("alpr_api_requests_total", "route, method"), "{{method}} {{route}}"),),
                    "reqps",
                ),
                Panel("Requests /s by status code", (Q(rate("alpr_api_requests_total", "code"), "{{code}}"),), "reqps"),
                Panel(
                    "Server errors (5xx share)",
                    (
                        Q(
                            f"({rate('alpr_api_requests_total', where=ERRORS)}"
                            f" or {rate('alpr_api_requests_total')} * 0) / {rate('alpr_api_requests_total')}",
                            "5xx",
                        ),
                    ),
                    "percentunit",
                ),
                Panel(
                    "Latency p95 by route",
                    (Q(quantile(0.95, "alpr_api_request_duration_seconds", "route"), "{{route}}"),),
                    "s",
                ),
            ),
        ),
        process("alpr-api"),
    ),
)

DASHBOARDS = (OVERVIEW, EDGE, FLOW, API)


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "datasource": DATASOURCE,
            "expr": q.expr,
            "legendFormat": q.legend or "__auto",
            "refId": chr(ord("A") + i),
            **({"instant": True, "range": False, "format": "table"} if q.instant else {"range": True}),
        }
        for i, q in enumerate(panel.queries)
    ]
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": targets,
    }
    if panel.description:
        out["description"] = panel.description
    if panel.kind == "timeseries":
        out["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    return out


def render(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard's Grafana JSON model."""
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row in dashboard.rows:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel(panel, next_id, x, y))
            next_id += 1
            x += panel.width
        y += 8
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["alpr"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": list(dashboard.variables)},
        "annotations": {"list": []},
        "panels": panels,
    }


def text(dashboard: Dashboard) -> str:
    """The JSON file's content."""
    return json.dumps(render(dashboard), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) every dashboard file."""
    check = "--check" in argv
    stale = []
    for dashboard in DASHBOARDS:
        path = OUT / f"{dashboard.uid}.json"
        wanted = text(dashboard)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != wanted:
                stale.append(path.name)
        else:
            path.write_text(wanted, encoding="utf-8")
    if stale:
        print(f"out of date (run python {Path(__file__).relative_to(HERE.parents[1])}): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
