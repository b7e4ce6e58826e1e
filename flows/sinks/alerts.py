"""Alert delivery: signed JSON webhooks and Slack incoming webhooks, once per alert and channel.

The database is the delivery queue, so nothing is lost or sent twice across restarts:

1. :class:`AlertSink` (the flow's ``op.output``) stores each :class:`WatchlistHit` as an
   ``alerts`` row plus one ``alert_deliveries`` row per channel, ``pending`` (insert-or-ignore on
   the deterministic ``alert_id``, so a replayed hit adds nothing), then wakes the dispatcher.
   The dataflow thread only does that one short transaction.
2. :class:`AlertDispatcher` (one per process, background threads) polls the pending rows that
   are due (the backoff runs from ``updated_at``, the time of the last attempt, in database
   time) and hands them to a bounded pool of sender threads.
3. A sender claims the row with ``SELECT ... FOR UPDATE SKIP LOCKED``, re-checks that it is
   still pending, sends one attempt and records the outcome in the same transaction:
   ``delivered``; ``pending`` with ``attempts + 1`` and ``last_error`` (retried after the
   backoff); or ``failed`` once the attempts or the retry time are used up, or the error is
   permanent (a 4xx other than 408/425/429) — then a :class:`DeadLetter` goes to the callback.

Two dispatchers (workers, processes, a restart) never send one delivery at the same time,
and a delivered row is never sent again. The only window for a duplicate is a crash between
the receiver's answer and the commit, so every request carries ``X-ALPR-Alert-Id`` (and
``Idempotency-Key``) for receivers that de-duplicate.

Webhook requests are signed: ``X-ALPR-Timestamp: <unix seconds>`` and
``X-ALPR-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`` with the channel secret.
A receiver recomputes the HMAC over the raw body and refuses stale timestamps (replays).

Channels are configured under ``flow.alerts``; watchlists name them in ``watchlists.channels``::

    flow:
      alerts:
        channels:
          - {name: ops-hook, type: webhook, url: "https://hooks.example.org/alpr", secret: "..."}
          - {name: ops-slack, type: slack, url: "https://hooks.slack.com/services/T/B/X"}
        default_channels: [ops-slack]   # for watchlists that name none
        max_retry_s: 180                # covers a receiver outage of a minute or two
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from prometheus_client import Counter, Histogram
from psycopg_pool import ConnectionPool

from config.flow import AlertChannel, AlertSettings
from flows.metrics import LATENCY_BUCKETS
from flows.sinks.postgres import AlertRecord, PostgresWriter
from operators.records import DeadLetter, DeadLetterFn, WatchlistHit

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

USER_AGENT = "alpr-platform/0.1"
_RETRYABLE_STATUS = {408, 425, 429}


# --- what is sent (pure) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as the delivery worker reads it back from the database."""

    alert_id: str
    event_id: str
    entry_id: int
    watchlist_id: int
    watchlist: str | None
    pattern: str | None
    match_type: str | None
    note: str | None
    plate: str
    camera_id: str
    site: str
    observed_at: datetime
    severity: str
    crop_url: str | None

    def to_json(self) -> dict[str, Any]:
        """The webhook body: every field, ``observed_at`` as ISO 8601 UTC."""
        return {
            "alert_id": self.alert_id,
            "event_id": self.event_id,
            "watchlist": self.watchlist,
            "watchlist_id": self.watchlist_id,
            "entry_id": self.entry_id,
            "pattern": self.pattern,
            "match_type": self.match_type,
            "note": self.note,
            "severity": self.severity,
            "plate": self.plate,
            "camera_id": self.camera_id,
            "site": self.site,
            "observed_at": self.observed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "crop_url": self.crop_url,
        }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>." + body`` with ``secret``."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def webhook_request(alert: StoredAlert, secret: bytes, now_s: float) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed webhook request sent at ``now_s`` (unix seconds)."""
    body = json.dumps(alert.to_json(), sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now_s))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ALPR-Alert-Id": alert.alert_id,
        "Idempotency-Key": alert.alert_id,
        "X-ALPR-Timestamp": timestamp,
        "X-ALPR-Signature": sign(secret, timestamp, body),
    }
    return body, headers


def _esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: StoredAlert) -> dict[str, Any]:
    """A Slack incoming-webhook message (Block Kit): plate, camera, time, list and an image link."""
    watchlist = alert.watchlist or f"#{alert.watchlist_id}"
    when = alert.observed_at.astimezone(UTC)
    epoch = int(when.timestamp())
    iso = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    match = alert.match_type or "match"
    pattern = f" `{_esc(alert.pattern)}`" if alert.pattern else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Watchlist hit: {alert.plate} ({watchlist})"[:150]},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Plate*\n`{_esc(alert.plate)}`"},
                {"type": "mrkdwn", "text": f"*Camera*\n{_esc(alert.camera_id)} ({_esc(alert.site)})"},
                {
                    "type": "mrkdwn",
                    "text": f"*Time*\n<!date^{epoch}^{{date_short_pretty}} {{time_secs}}|{iso}>",
                },
                {"type": "mrkdwn", "text": f"*List*\n{_esc(watchlist)} (severity {_esc(alert.severity)})"},
                {"type": "mrkdwn", "text": f"*Match*\n{_esc(match)}{pattern}"},
            ],
        },
    ]
    if alert.note:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Note*\n{_esc(alert.note)}"[:3000]}})
    if alert.crop_url:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{alert.crop_url}|View the plate image>"},
            }
        )
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "No plate image stored."}]})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"alert `{alert.alert_id}` | event `{alert.event_id}`"}],
        }
    )
    return {
        "text": f"Watchlist hit: {alert.plate} on {alert.camera_id} at {iso} ({watchlist})",
        "blocks": blocks,
    }


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


@dataclass(frozen=True, slots=True)
class Attempt:
    """Outcome of one delivery attempt; ``retryable`` only matters when not ``ok``."""

    ok: bool
    retryable: bool = True
    error: str | None = None


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """One delivery attempt of ``alert`` on ``channel`` (never raises)."""
    headers: dict[str, str]
    if channel.type not in ("webhook", "slack"):
        from flows.sinks.channels import SENDERS

        ok, error = SENDERS[channel.type](channel, alert)
        return Attempt(ok, True, error)
    if channel.type == "webhook":
        secret = channel.secret.get_secret_value().encode() if channel.secret else b""
        body, headers = webhook_request(alert, secret, now_s)
    else:
        body = json.dumps(slack_message(alert), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-ALPR-Alert-Id": alert.alert_id,
        }
    try:
        response = client.post(channel.url, content=body, headers=headers, timeout=channel.timeout_s)
    except httpx.HTTPError as exc:
        return Attempt(False, True, f"{type(exc).__name__}: {exc}".strip())
    if 200 <= response.status_code < 300:
        return Attempt(True)
    detail = f"HTTP {response.status_code}: {response.text[:200].strip()}"
    retryable = response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS
    return Attempt(False, retryable, detail)


# --- the dispatcher --------------------------------------------------------------------------

# Only the channels this process is configured for: rows naming another channel were stored
# failed already, or belong to a differently configured deployment sharing the database.
_DUE_SQL = """
SELECT alert_id::text, channel, attempts, extract(epoch FROM now() - updated_at)::float8
FROM alert_deliveries
WHERE status = 'pending' AND channel = ANY(%s)
ORDER BY updated_at
LIMIT %s
"""

_CLAIM_SQL = """
SELECT d.status, d.attempts,
       extract(epoch FROM now() - d.updated_at)::float8,
       extract(epoch FROM now() - a.created_at)::float8,
       a.alert_id::text, a.event_id::text, a.entry_id, a.watchlist_id, w.name, e.pattern, e.match_type,
       e.note, a.plate, a.camera_id, a.site, a.observed_at, a.severity,
       (SELECT pe.crop_url FROM plate_events pe
         WHERE pe.event_id = a.event_id AND pe.crop_url IS NOT NULL
         ORDER BY pe.updated_at DESC LIMIT 1),
       (SELECT pe.crop_key FROM plate_events pe
         WHERE pe.event_id = a.event_id AND pe.crop_key IS NOT NULL
         ORDER BY pe.updated_at DESC LIMIT 1)
FROM alert_deliveries d
JOIN alerts a ON a.alert_id = d.alert_id
LEFT JOIN watchlists w ON w.id = a.watchlist_id
LEFT JOIN watchlist_entries e ON e.id = a.entry_id
WHERE d.alert_id = %s AND d.channel = %s
FOR UPDATE OF d SKIP LOCKED
"""

_DELIVERED_SQL = """
UPDATE alert_deliveries
SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = now(), delivered_at = now()
WHERE alert_id = %s AND channel = %s
"""

_RETRY_SQL = """
UPDATE alert_deliveries SET attempts = attempts + 1, last_error = %s, updated_at = now()
WHERE alert_id = %s AND channel = %s
"""

_FAILED_SQL = """
UPDATE alert_deliveries SET status = 'failed', attempts = attempts + 1, last_error = %s, updated_at = now()
WHERE alert_id = %s AND channel = %s
"""


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
                left = conn.execute(
                    "SELECT count(*) FROM alert_deliveries WHERE status = 'pending' AND channel = ANY(%s)",
                    (self._channel_names,),
                ).fetchone()
            if left is not None and left[0] == 0:
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
        """Alerts of operator corrections (:mod:`flows.sinks.corrections`), stored for delivery."""
        from flows.sinks.corrections import raise_correction_alerts

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
                rows = conn.execute(_DUE_SQL, (self._channel_names, self._max_inflight * 4)).fetchall()
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
            rows = conn.execute(_DUE_SQL, (self._channel_names, self._max_inflight * 4)).fetchall()
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
            row = conn.execute(_CLAIM_SQL, (alert_id, channel)).fetchone()
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
                result = send(self._client, config, alert, self._clock())
            attempts += 1
            if result.ok:
                conn.execute(_DELIVERED_SQL, (alert_id, channel))
                status = "delivered"
            elif not result.retryable or attempts >= self.settings.max_attempts or age_s >= self.settings.max_retry_s:
                conn.execute(_FAILED_SQL, (result.error, alert_id, channel))
                status = "failed"
                dead = self._dead_letter(alert, channel, attempts, result.error or "failed")
            else:
                conn.execute(_RETRY_SQL, (result.error, alert_id, channel))
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


# --- the Bytewax sink -------------------------------------------------------------------------


def resolve_channels(settings: AlertSettings, hit: WatchlistHit) -> AlertRecord:
    """Split the hit's channels (its watchlist's, else ``default_channels``) into configured/unknown."""
    configured = {c.name for c in settings.channels}
    names = tuple(dict.fromkeys(hit.entry.channels or settings.default_channels))
    return AlertRecord(
        hit=hit,
        channels=tuple(n for n in names if n in configured),
        unknown_channels=tuple(n for n in names if n not in configured),
    )


class _SharedDispatchers:
    """One dispatcher per process and database, shared by the workers' sink partitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, AlertSettings], tuple[AlertDispatcher, int]] = {}

    def acquire(self, url: str, settings: AlertSettings, factory: Callable[[], AlertDispatcher]) -> AlertDispatcher:
        with self._lock:
            dispatcher, users = self._entries.get((url, settings), (None, 0))
            if dispatcher is None:
                dispatcher = factory().start()
            self._entries[(url, settings)] = (dispatcher, users + 1)
            return dispatcher

    def release(self, url: str, settings: AlertSettings) -> None:
        with self._lock:
            dispatcher, users = self._entries[(url, settings)]
            if users > 1:
                self._entries[(url, settings)] = (dispatcher, users - 1)
                return
            del self._entries[(url, settings)]
        dispatcher.close()


_DISPATCHERS = _SharedDispatchers()


class _AlertPartition(StatelessSinkPartition[WatchlistHit]):
    def __init__(self, sink: AlertSink, writer: PostgresWriter, dispatcher: AlertDispatcher) -> None:
        self._sink = sink
        self._writer = writer
        self._dispatcher = dispatcher

    def write_batch(self, items: list[WatchlistHit]) -> None:
        self._sink.store(self._writer, items)
        self._dispatcher.wake()

    def close(self) -> None:
        self._writer.close()
        _DISPATCHERS.release(self._sink.url, self._sink.settings)


class AlertSink(DynamicSink[WatchlistHit]):
    """``op.output`` sink for :class:`WatchlistHit` s: stores them, and a per-process dispatcher delivers."""

    def __init__(
        self,
        url: str,
        settings: AlertSettings,
        *,
        dead_letters: DeadLetterFn | None = None,
        alerts_topic: str = "alpr.alerts",
        presign: Callable[[str], str] | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self._dead_letters = dead_letters
        self._alerts_topic = alerts_topic
        self._presign = presign

    def dispatcher(self) -> AlertDispatcher:
        """A new, not started dispatcher for this sink's database and settings."""
        return AlertDispatcher(
            self.url,
            self.settings,
            dead_letters=self._dead_letters,
            alerts_topic=self._alerts_topic,
            presign=self._presign,
        )

    def store(self, writer: PostgresWriter, hits: Sequence[WatchlistHit]) -> None:
        """Store hits and delivery rows; dead-letter deliveries to channels that are not configured."""
        new = writer.write_alerts([resolve_channels(self.settings, h) for h in hits])
        for row in new:
            if row.status == "failed":
                log.error("alerts: alert %s names channel %s: %s", row.alert_id, row.channel, row.last_error)
                if self._dead_letters is not None:
                    self._dead_letters(
                        DeadLetter.of(
                            f"alert_delivery:{row.channel}",
                            row.last_error or "",
                            "UnknownAlertChannel",
                            datetime.now(UTC),
                            key=row.alert_id.encode(),
                            source_topic=self._alerts_topic,
                        )
                    )

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        writer = PostgresWriter(
            self.url, max_size=1, name=f"alpr-flow-{step_id}-{worker_index}", dead_letters=self._dead_letters
        )
        return _AlertPartition(self, writer, _DISPATCHERS.acquire(self.url, self.settings, self.dispatcher))
