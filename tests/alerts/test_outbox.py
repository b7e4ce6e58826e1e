"""Alert delivery: messages and backoff (pure), then delivery to a real local receiver via PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from hypothesis import given
from hypothesis import strategies as st

from alerts.messages import StoredAlert, slack_message, webhook_request
from alerts.outbox import AlertDispatcher, backoff_s
from alerts.routing import resolve_channels
from config.flow import AlertChannel, AlertSettings
from flows.sinks.alerts import AlertSink
from flows.sinks.postgres import PostgresWriter
from operators.records import DeadLetter
from tests.flows import receiver as rx
from tests.flows.sink_records import make_event, make_hit, unique_camera
from tests.waiting import wait_until

SECRET = "s3cr3t-for-tests"

ALERT = StoredAlert(
    alert_id="5f0c1f44-9a43-5b0e-9c55-0d5a1b7c2f10",
    event_id="1b4e28ba-2fa1-51d2-883f-0016d3cca427",
    entry_id=7,
    watchlist_id=3,
    watchlist="stolen <cars>",
    pattern="ABC123",
    match_type="exact",
    note="case 42 & co",
    plate="ABC123",
    camera_id="gate-1",
    site="lot-a",
    observed_at=datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
    severity="high",
    crop_url="http://s3:8333/c/x.jpg",
)

# --- pure ---------------------------------------------------------------------------------


def test_webhook_request_is_signed_over_timestamp_and_body():
    body, headers = webhook_request(ALERT, SECRET.encode(), now_s=1_700_000_000.7)
    assert headers["X-ALPR-Timestamp"] == "1700000000"
    # The receiver's own implementation of the scheme agrees.
    assert headers["X-ALPR-Signature"] == rx.sign(SECRET.encode(), "1700000000", body)
    assert headers["X-ALPR-Signature"] != rx.sign(b"other", "1700000000", body)
    assert headers["X-ALPR-Alert-Id"] == headers["Idempotency-Key"] == ALERT.alert_id
    payload = json.loads(body)
    assert payload["observed_at"] == "2026-03-01T12:00:05Z"
    assert payload["plate"] == "ABC123" and payload["crop_url"] == ALERT.crop_url
    assert webhook_request(ALERT, SECRET.encode(), 1_700_000_000)[0] == body  # deterministic body


@pytest.mark.parametrize(
    "alert",
    [ALERT, replace(ALERT, crop_url=None, note=None, watchlist=None, pattern=None, match_type=None)],
    ids=["full", "bare"],
)
def test_slack_message_is_valid_block_kit_with_plate_camera_time_list_and_image(alert):
    message = slack_message(alert)
    assert rx.slack_problems(message) == []
    text = json.dumps(message)
    assert "ABC123" in text and "gate-1" in text and "2026-03-01 12:00:05 UTC" in text
    if alert.crop_url:
        assert f"<{alert.crop_url}|" in text
        assert "stolen &lt;cars&gt;" in text and "case 42 &amp; co" in text  # mrkdwn escaped
    else:
        assert "No plate image stored." in text and "#3" in text


def test_receiver_rejects_malformed_slack_messages():
    assert rx.slack_problems({"blocks": []})
    assert rx.slack_problems({"text": "x", "blocks": [{"type": "section"}]})
    assert rx.slack_problems({"text": "x", "blocks": [{"type": "image", "image_url": "ftp://x", "alt_text": ""}]})


POLICY = AlertSettings(backoff_initial_s=0.5, backoff_max_s=10, backoff_jitter=0.25)


@pytest.mark.parametrize(
    ("attempts", "base"), [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (6, 10.0), (30, 10.0)]
)
def test_backoff_is_exponential_capped_and_jittered(attempts, base):
    waits = {backoff_s(POLICY, attempts, f"alert-{i}") for i in range(50)}
    assert all(base * 0.75 <= w <= base * 1.25 for w in waits)
    assert len(waits) == (1 if base == 0 else 50)  # spread across deliveries
    assert backoff_s(POLICY, attempts, "alert-1") == backoff_s(POLICY, attempts, "alert-1")  # same everywhere


@given(attempts=st.integers(1, 60), key=st.text(max_size=20), jitter=st.floats(0, 1))
def test_backoff_stays_within_jitter_of_the_capped_exponential(attempts, key, jitter):
    policy = AlertSettings(backoff_initial_s=0.3, backoff_max_s=7, backoff_jitter=jitter)
    base = min(0.3 * 2 ** (attempts - 1), 7)
    assert base * (1 - jitter) - 1e-9 <= backoff_s(policy, attempts, key) <= base * (1 + jitter) + 1e-9


def test_default_retry_budget_covers_a_one_minute_outage():
    default = AlertSettings()
    assert default.max_retry_s >= 120
    total, attempts = 0.0, 0
    while total < 60:
        attempts += 1
        total += backoff_s(default, attempts, "k")
    assert attempts < default.max_attempts


def test_resolve_channels_splits_configured_and_unknown():
    settings = AlertSettings(
        channels=[
            AlertChannel(name="hook", type="webhook", url="http://127.0.0.1:1/", secret="k"),
            AlertChannel(name="chat", type="slack", url="http://127.0.0.1:1/"),
        ],
        default_channels=["chat"],
    )
    event = make_event("cam")
    rec = resolve_channels(settings, make_hit(event, channels=("hook", "pager", "hook")))
    assert (rec.channels, rec.unknown_channels) == (("hook",), ("pager",))
    assert resolve_channels(settings, make_hit(event, channels=())).channels == ("chat",)


def test_webhook_channel_without_secret_is_a_config_error():
    with pytest.raises(ValueError, match="needs a secret"):
        AlertChannel(name="hook", type="webhook", url="http://127.0.0.1:1/")


# --- delivery through PostgreSQL to a real receiver ----------------------------------------


@pytest.fixture
def receiver():
    with rx.AlertReceiver(SECRET) as r:
        yield r


def _settings(receiver: rx.AlertReceiver, *, secret: str = SECRET, **policy) -> AlertSettings:
    """Settings with uniquely named channels (tests share the database) and a fast retry policy."""
    tag = secrets.token_hex(3)
    fast = {
        "backoff_initial_s": 0.1,
        "backoff_max_s": 0.5,
        "poll_s": 0.2,
        "max_retry_s": 120.0,
        "max_attempts": 1000,
    }
    return AlertSettings(
        channels=[
            AlertChannel(name=f"hook-{tag}", type="webhook", url=receiver.url("webhook"), secret=secret, timeout_s=2),
            AlertChannel(name=f"slack-{tag}", type="slack", url=receiver.url("slack"), timeout_s=2),
        ],
        **{**fast, **policy},
    )


def _store(database_url: str, settings: AlertSettings, hits) -> None:
    with PostgresWriter(database_url, name="test-alerts-writer") as writer:
        AlertSink(database_url, settings).store(writer, hits)


def _hits(settings: AlertSettings, n: int):
    cam = unique_camera()
    names = tuple(c.name for c in settings.channels)
    return [make_hit(make_event(cam, f"run-{i}", first=i, plate=f"ABC{i:03d}"), channels=names) for i in range(n)]


def _deliveries(database_url: str, settings: AlertSettings):
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT alert_id::text, channel, status, attempts, last_error, delivered_at IS NOT NULL "
            "FROM alert_deliveries WHERE channel = ANY(%s) ORDER BY alert_id, channel",
            ([c.name for c in settings.channels],),
        ).fetchall()


@pytest.mark.integration
def test_webhook_and_slack_deliveries_arrive_once_signed_and_valid(database_url, receiver):
    settings = _settings(receiver)
    hits = _hits(settings, 3)
    with AlertDispatcher(database_url, settings) as dispatcher:
        _store(database_url, settings, hits)
        dispatcher.wake()
        assert dispatcher.drain(10)
        _store(database_url, settings, hits)  # replayed hits: nothing new to send
    # close() delivers whatever is due before it returns: a replay that made new deliveries shows below.
    assert receiver.rejected == []
    expected = sorted(h.alert_id for h in hits)
    assert sorted(receiver.alert_ids("/webhook")) == expected
    assert sorted(receiver.alert_ids("/slack")) == expected
    webhook = next(d.payload for d in receiver.deliveries if d.path == "/webhook" and d.alert_id == hits[0].alert_id)
    assert webhook["plate"] == "ABC000" and webhook["watchlist_id"] == 1 and webhook["entry_id"] == 1
    rows = _deliveries(database_url, settings)
    assert {(r[2], r[3], r[5]) for r in rows} == {("delivered", 1, True)} and len(rows) == 6


def _outage(database_url: str, receiver: rx.AlertReceiver, settings: AlertSettings, outage_s: float) -> None:
    hits = _hits(settings, 4)
    receiver.stop()
    with AlertDispatcher(database_url, settings) as dispatcher:
        _store(database_url, settings, hits)
        dispatcher.wake()
        time.sleep(outage_s)
        assert receiver.deliveries == []
        receiver.start()  # same port
        assert dispatcher.drain(outage_s + 30)
    counts = Counter(receiver.alert_ids())
    assert sorted(counts) == sorted(h.alert_id for h in hits) and set(counts.values()) == {2}  # webhook + slack
    rows = _deliveries(database_url, settings)
    assert all(r[2] == "delivered" and r[3] > 1 for r in rows), rows


@pytest.mark.integration
def test_receiver_down_then_up_gets_every_alert_exactly_once(database_url, receiver):
    _outage(database_url, receiver, _settings(receiver), float(os.environ.get("ALPR_TEST_OUTAGE_S", "8")))


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ALPR_SLOW_TESTS") != "1", reason="60 s outage: set ALPR_SLOW_TESTS=1")
def test_one_minute_outage_with_the_default_retry_policy(database_url, receiver):
    defaults = AlertSettings()
    _outage(
        database_url,
        receiver,
        _settings(
            receiver,
            **{
                k: getattr(defaults, k)
                for k in ("backoff_initial_s", "backoff_max_s", "poll_s", "max_retry_s", "max_attempts")
            },
        ),
        60.0,
    )


@pytest.mark.integration
def test_failed_after_the_last_retry_marks_failed_and_dead_letters(database_url, receiver):
    settings = _settings(receiver, max_attempts=3)
    hits = _hits(settings, 1)
    dead: list[DeadLetter] = []
    receiver.fail_next(100, status=503)
    with AlertDispatcher(database_url, settings, dead_letters=dead.append) as dispatcher:
        _store(database_url, settings, hits)
        dispatcher.wake()
        assert dispatcher.drain(10)
    rows = _deliveries(database_url, settings)
    assert [(r[2], r[3]) for r in rows] == [("failed", 3), ("failed", 3)]
    assert all("HTTP 503" in r[4] for r in rows)
    assert sorted(d.step.split(":")[0] for d in dead) == ["alert_delivery", "alert_delivery"]
    assert {d.key for d in dead} == {hits[0].alert_id.encode()} and all("3 attempts" in d.reason for d in dead)
    assert json.loads(dead[0].value)["plate"] == "ABC000"
    assert receiver.requests == 6 and receiver.deliveries == []


@pytest.mark.integration
def test_a_bad_signature_is_refused_by_the_receiver_and_fails_without_retries(database_url, receiver):
    settings = _settings(receiver, secret="not-the-receivers-secret")
    hook = settings.channels[0].name
    hits = _hits(settings, 1)
    dead: list[DeadLetter] = []
    with AlertDispatcher(database_url, settings, dead_letters=dead.append) as dispatcher:
        _store(database_url, settings, hits)
        dispatcher.wake()
        assert dispatcher.drain(10)
    rows = {r[1]: r for r in _deliveries(database_url, settings)}
    assert rows[hook][2:4] == ("failed", 1) and "HTTP 401" in rows[hook][4]  # permanent: no retry
    assert receiver.rejected == [("/webhook", "bad signature")]
    assert [d.step for d in dead] == [f"alert_delivery:{hook}"]


@pytest.mark.integration
def test_restart_resumes_pending_deliveries_and_never_resends_delivered_ones(database_url, receiver):
    settings = _settings(receiver)
    first, second = _hits(settings, 2), _hits(settings, 2)
    with AlertDispatcher(database_url, settings) as dispatcher:  # run 1 delivers the first hits
        _store(database_url, settings, first)
        dispatcher.wake()
        assert dispatcher.drain(10)
    receiver.stop()
    run2 = AlertDispatcher(database_url, settings).start()  # run 2 stores more, cannot deliver, "dies"
    _store(database_url, settings, second)
    run2.wake()

    def all_tried() -> list:
        pending = [r for r in _deliveries(database_url, settings) if r[2] == "pending" and r[3] >= 1]
        return pending if len(pending) == 4 else []

    wait_until(all_tried, "run 2 to try (and fail) each of its 4 deliveries")
    run2.close(flush_s=0)
    pending = [r for r in _deliveries(database_url, settings) if r[2] == "pending"]
    assert len(pending) == 4 and all(r[3] >= 1 for r in pending)
    receiver.start()
    with AlertDispatcher(database_url, settings) as run3:  # restart: resumes from the DB
        _store(database_url, settings, first + second)  # the flow replays its last batch
        run3.wake()
        assert run3.drain(15)
    # Closed: its threads have ended, so any resend of a delivered alert would have arrived.
    counts = Counter(receiver.alert_ids())
    assert sorted(counts) == sorted(h.alert_id for h in first + second) and set(counts.values()) == {2}


@pytest.mark.integration
def test_two_dispatchers_on_one_database_send_each_alert_once(database_url, receiver):
    settings = _settings(receiver, workers=3)
    hits = _hits(settings, 20)
    with (
        AlertDispatcher(database_url, settings, name="d1") as d1,
        AlertDispatcher(database_url, settings, name="d2"),
    ):
        _store(database_url, settings, hits)
        d1.wake()
        assert d1.drain(20)
    counts = Counter(receiver.alert_ids())
    assert len(counts) == 20 and set(counts.values()) == {2}


@pytest.mark.integration
def test_bytewax_alert_sink_stores_and_delivers_before_close_returns(database_url, receiver):
    settings = _settings(receiver)
    hits = _hits(settings, 5)
    flow = Dataflow("alert_sink_test")
    op.output("alerts", op.input("in", flow, TestingSource(hits + hits[:2])), AlertSink(database_url, settings))
    run_main(flow)
    counts = Counter(receiver.alert_ids())
    assert sorted(counts) == sorted(h.alert_id for h in hits) and set(counts.values()) == {2}
