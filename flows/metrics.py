"""Prometheus metrics of the plates dataflow.

One set of collectors per process (the Prometheus registry is global); every worker thread
of the process shares them. :func:`serve` starts the HTTP endpoint on
``settings.metrics.flow_port`` once per process, however many workers call it.

Kafka consumer lag comes from bytewax's source (``bytewax_kafka_consumer_lag{step_id, topic,
partition}``, from librdkafka's statistics every second). Latency histograms measure from the
capture time of the frame (``frame_ts``, stamped by the edge) to the moment a sink finished
writing: the database (``frame_to_db``) and the alert channels (``frame_to_alert``). Both
compare the edge's clock with the flow host's clock, so they are only as good as the hosts' NTP.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import get_args

from prometheus_client import Counter, Gauge, Histogram

from config.settings import MetricsSettings
from operators.records import RejectReason
from telemetry import metrics as telemetry
from telemetry.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

OCR_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12)

STEP_ITEMS = Counter("alpr_flow_step_items", "Items that left a step of the plates flow.", ["step"])
DEAD_LETTERS = Counter("alpr_flow_dead_letters", "Messages sent to the dead-letter topic.", ["step", "error_type"])
REJECTED_READS = Counter("alpr_flow_rejected_reads", "Reads that failed validation.", ["reason"])
for _reason in get_args(RejectReason):  # every reason's series exists, at 0, from the start
    REJECTED_READS.labels(_reason)
SITE_COUNTRY_SHARE = Gauge(
    "alpr_flow_site_country_share",
    "Share of a site's reads that its leading country's formats clearly hold (the learned mix).",
    ["site", "country"],
)
PLATE_BANDS = Counter(
    "alpr_flow_plate_bands",
    "Plate reads by what their best crop showed of a European band (present, absent, unknown: grey or unreadable).",
    ["band"],
)
for _band in ("present", "absent", "unknown"):  # every outcome's series exists, at 0, from the start
    PLATE_BANDS.labels(_band)
OCR_CROP_SECONDS = Histogram(
    "alpr_flow_ocr_crop_duration_seconds", "OCR time per crop (batch time / batch size).", buckets=OCR_BUCKETS
)
OCR_FAILURES = Counter("alpr_flow_ocr_failures", "Crops the OCR engine failed on (read as empty).")
OCR_BATCH_SECONDS = Histogram("alpr_flow_ocr_batch_duration_seconds", "OCR time per engine call.", buckets=OCR_BUCKETS)
OCR_BATCH_SIZE = Histogram(
    "alpr_flow_ocr_batch_size", "Crops per OCR engine call.", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
FRAME_TO_DB_SECONDS = Histogram(
    "alpr_flow_frame_to_db_seconds", "Frame capture to plate event stored.", buckets=LATENCY_BUCKETS
)
FRAME_TO_ALERT_SECONDS = Histogram(
    "alpr_flow_frame_to_alert_seconds", "Frame capture to alert handed to its sink.", buckets=LATENCY_BUCKETS
)

_server_lock = threading.Lock()
_server_port: int | None = None


def serve(settings: MetricsSettings) -> int | None:
    """Start the /metrics endpoint once per process; return its port (None when disabled).

    A port already in use is logged, not raised: metrics must never stop the flow.
    """
    global _server_port
    if not settings.enabled:
        return None
    with _server_lock:
        if _server_port is None:
            telemetry.build_info("flow")
            _server_port = telemetry.serve(settings.host, settings.flow_port)
        return _server_port


def counted(step: str) -> Callable[[object], object]:
    """An ``op.inspect`` callback counting the items that leave ``step``."""
    child = STEP_ITEMS.labels(step)

    def _count(_step_id: str, _item: object) -> None:
        child.inc()

    return _count


def observe_latency(histogram: Histogram, frame_times: Iterable[datetime], now: datetime | None = None) -> None:
    """Observe ``now - frame_ts`` for each frame time (``now`` defaults to the wall clock)."""
    at = now or datetime.now(UTC)
    for frame_ts in frame_times:
        histogram.observe(max(0.0, (at - frame_ts).total_seconds()))
