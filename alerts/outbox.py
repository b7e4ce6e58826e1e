"""The alert outbox worker: delivers the pending ``alert_deliveries`` rows (see :mod:`alerts`).

:class:`AlertDispatcher` (one per process and database) polls the due rows, hands them to a
bounded pool of sender threads, and records each attempt's outcome in the row it claimed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import psycopg
from prometheus_client import Counter, Histogram
from psycopg_pool import ConnectionPool

from alerts import channels
from alerts.channels.base import Attempt
from alerts.messages import StoredAlert
from config.flow import AlertSettings
from db import alerts as db
from operators.records import DeadLetter, DeadLetterFn
from telemetry.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

ALERT_DELIVERIES = Counter(
    "alpr_flow_alert_deliveries",
    "Alert delivery attempts by outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)
# Frame capture (the event's best frame) to the channel accepting the alert, retries included;
# flows.metrics.FRAME_TO_ALERT_SECONDS stops earlier, when the alert is stored.
FRAME_TO_DELIVERED_SECONDS = Histogram(
    "alpr_flow_frame_to_alert_delivered_seconds",
    "Frame capture to alert accepted by its channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)


def backoff_s(settings: AlertSettings, attempts: int, key: str) -> float:
    """Wait after the ``attempts``-th failed attempt: exponential, capped, with jitter.

    The jitter is a pseudo-random factor in ``1 +- backoff_jitter`` derived from ``key`` and
    ``attempts``, so every process computes the same schedule for a delivery while different
    deliveries spread out.
    """
    if attempts <= 0:
        return 0.0
    base = min(settings.backoff_initial_s * 2 ** (attempts - 1), settings.backoff_max_s)
    digest = hashlib.blake2b(f"{key}\x1f{attempts}".encode(), digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2**64  # [0, 1)
    return base * (1.0 + settings.backoff_jitter * (2.0 * unit - 1.0))


class AlertDispatcher:
    """Delivers pending ``alert_deliveries`` rows in background threads (see the module doc).

    ``clock`` gives the unix time stamped in webhook signatures. Use as a context manager or
    call :meth:`start` / :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        settings: AlertSettings,
        *,
        dead_letters: DeadLetterFn | None = None,
        alerts_topic: str = "alpr.alerts",
        name: str = "alpr-alerts",
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        presign: Callable[[str], str] | None = None,
    ) -> None:
        self.settings = settings
        self._presign = presign
        self.name = name
        self._channels = {c.name: c for c in settings.channels}
        self._channel_names = list(self._channels)
        for channel in self._channel_names:  # series at 0 until the first delivery
            for outcome in ("delivered", "retry", "failed"):
                ALERT_DELIVERIES.labels(channel, outcome)
            FRAME_TO_DELIVERED_SECONDS.labels(channel)
        self._dead_letters = dead_letters
        self._alerts_topic = alerts_topic
        self._clock = clock
        self._client = client or httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.workers * 2, max_keepalive_connections=settings.workers),
        )
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=settings.workers + 1,
            name=name,
            open=False,
            timeout=10.0,
            check=ConnectionPool.check_connection,
            reconnect_timeout=5.0,  # see flows.sinks.postgres.PostgresWriter
            kwargs={"application_name": name, "connect_timeout": 5},
        )
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix=f"{name}-send")
        self._max_inflight = settings.workers * 4
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> AlertDispatcher:
        """Open the pool and start polling (resumes the pending rows of earlier runs).

        Without configured channels there is nothing to deliver: alerts are only stored.
        """
        if not self._channels:
            log.info("%s: no alert channels configured; alerts are stored, not sent", self.name)
            return self
        if self._thread is None:
            self._pool.open(wait=False)
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-dispatch", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Look for due deliveries now (new alerts were stored)."""
        self._wake.set()

    def close(self, flush_s: float = 10.0) -> None:
        """Deliver what is due within ``flush_s`` seconds, then stop; the rest stays pending in the DB."""
        if self._thread is None:
            return
        deadline = time.monotonic() + flush_s
        while time.monotonic() < deadline and self._has_due_now():
            self.wake()
            time.sleep(0.05)
        self._stopping.set()
        self._wake.set()
        self._thread.join(flush_s + 5)
        self._executor.shutdown(wait=True)
        self._pool.close()
        self._client.close()
        self._thread = None

    def __enter__(self) -> AlertDispatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drain(self, timeout_s: float) -> bool:
        """Wait until none of this dispatcher's channels has a pending delivery; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._pool.connection() as conn:
                left = db.count_pending(conn, self._channel_names)
            if left == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            self.wake()
            time.sleep(0.05)

    # --- polling --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._raise_correction_alerts()
                wait = self._dispatch_due()
            except (psycopg.Error, OSError) as exc:
                log.warning("%s: cannot read pending deliveries (%s); retrying", self.name, exc)
                wait = self.settings.poll_s
            except Exception:  # keep delivering whatever happens; the row stays pending
                log.exception("%s: dispatcher error", self.name)
                wait = self.settings.poll_s
            self._wake.wait(max(0.0, min(wait, self.settings.poll_s)))
            self._wake.clear()

    def _raise_correction_alerts(self) -> None:
        """Alerts of operator corrections (:mod:`alerts.corrections`), stored for delivery."""
        from alerts.corrections import raise_correction_alerts

        try:
            with self._pool.connection() as conn:
                created = raise_correction_alerts(conn, self.settings, datetime.now(UTC))
        except psycopg.Error as exc:  # e.g. a database before migration 0007: deliveries go on
            log.warning("%s: cannot match corrections: %s", self.name, exc)
            return
        for row in created:
            if row.status == "failed":
                log.error("alerts: alert %s names channel %s: %s", row.alert_id, row.channel, row.last_error)

    def _has_due_now(self) -> bool:
        try:
            with self._pool.connection() as conn:
                rows = db.due_deliveries(conn, self._channel_names, self._max_inflight * 4)
        except psycopg.Error:
            return False
        with self._lock:
            if self._inflight:
                return True
        return any(since >= backoff_s(self.settings, attempts, f"{a}\x1f{c}") for a, c, attempts, since in rows)

    def _dispatch_due(self) -> float:
        """Submit due rows to the senders; return seconds until the next one is due."""
        with self._lock:
            room = self._max_inflight - len(self._inflight)
        if room <= 0:
            return self.settings.poll_s
        with self._pool.connection() as conn:
            rows = db.due_deliveries(conn, self._channel_names, self._max_inflight * 4)
        next_due = self.settings.poll_s
        for alert_id, channel, attempts, since in rows:
            wait = backoff_s(self.settings, attempts, f"{alert_id}\x1f{channel}") - since
            if wait > 0:
                next_due = min(next_due, wait)
                continue
            key = (alert_id, channel)
            with self._lock:
                if key in self._inflight or len(self._inflight) >= self._max_inflight:
                    continue
                self._inflight.add(key)
            self._executor.submit(self._deliver_guarded, alert_id, channel)
        return next_due

    # --- one attempt ------------------------------------------------------------------------
    def _deliver_guarded(self, alert_id: str, channel: str) -> None:
        try:
            self.deliver_once(alert_id, channel)
        except Exception as exc:  # the row stays pending; the next poll retries it
            log.warning(
                "%s: delivery %s/%s interrupted: %s: %s",
                self.name,
                alert_id,
                channel,
                type(exc).__name__,
                exc,
            )
        finally:
            with self._lock:
                self._inflight.discard((alert_id, channel))
            self._wake.set()

    def deliver_once(self, alert_id: str, channel: str) -> str | None:
        """Claim and attempt one delivery; returns the new status, or None when it was not claimable."""
        dead: DeadLetter | None = None
        with self._pool.connection() as conn:
            row = db.claim_delivery(conn, alert_id, channel)
            if row is None or row[0] != "pending":
                return None  # delivered/failed meanwhile, or another sender holds it
            _, attempts, since_s, age_s, *fields, crop_key = row
            if since_s < backoff_s(self.settings, attempts, f"{alert_id}\x1f{channel}"):
                return None  # another process attempted it a moment ago
            alert = StoredAlert(*fields)
            if crop_key and self._presign is not None:
                alert = replace(alert, crop_url=self._image_link(crop_key, alert.crop_url))
            config = self._channels.get(channel)
            if config is None:
                result = Attempt(False, False, f"channel {channel!r} is not configured (flow.alerts.channels)")
            else:
                result = channels.send(self._client, config, alert, self._clock())
            attempts += 1
            if result.ok:
                db.mark_delivered(conn, alert_id, channel)
                status = "delivered"
            elif not result.retryable or attempts >= self.settings.max_attempts or age_s >= self.settings.max_retry_s:
                db.mark_failed(conn, alert_id, channel, result.error)
                status = "failed"
                dead = self._dead_letter(alert, channel, attempts, result.error or "failed")
            else:
                db.mark_retry(conn, alert_id, channel, result.error)
                status = "pending"
        # Committed: now report.
        ALERT_DELIVERIES.labels(channel, "retry" if status == "pending" else status).inc()
        if status == "delivered":
            FRAME_TO_DELIVERED_SECONDS.labels(channel).observe(max(0.0, self._clock() - alert.observed_at.timestamp()))
            log.info("%s: alert %s delivered on %s (attempt %d)", self.name, alert_id, channel, attempts)
        elif status == "failed":
            log.error(
                "%s: alert %s on %s failed after %d attempts: %s",
                self.name,
                alert_id,
                channel,
                attempts,
                result.error,
            )
            if dead is not None:
                self._publish_dead_letter(dead)
        else:
            log.warning(
                "%s: alert %s on %s attempt %d failed: %s",
                self.name,
                alert_id,
                channel,
                attempts,
                result.error,
            )
        return status

    def _image_link(self, key: str, fallback: str | None) -> str | None:
        """A presigned GET URL of the crop (``presign``), so the alert's image link opens."""
        try:
            return self._presign(key) if self._presign else fallback
        except Exception as exc:  # signing is local; a failure must not block the delivery
            log.warning("%s: cannot presign %s: %s", self.name, key, exc)
            return fallback

    def _dead_letter(self, alert: StoredAlert, channel: str, attempts: int, error: str) -> DeadLetter:
        return DeadLetter.of(
            f"alert_delivery:{channel}",
            f"undelivered after {attempts} attempts: {error}",
            "AlertDeliveryFailed",
            datetime.now(UTC),
            key=alert.alert_id.encode(),
            value=json.dumps({**alert.to_json(), "channel": channel}, sort_keys=True).encode(),
            source_topic=self._alerts_topic,
        )

    def _publish_dead_letter(self, dead: DeadLetter) -> None:
        if self._dead_letters is None:
            log.error("%s: no dead-letter callback; dead letter kept in the log only: %s", self.name, dead)
            return
        try:
            self._dead_letters(dead)
        except Exception:
            log.exception("%s: dead-letter callback failed for %s", self.name, dead)
