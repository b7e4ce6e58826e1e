"""Alerts of operator corrections: a watchlist match on the corrected plate raises its alert once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import psycopg
import pytest

from alerts.corrections import raise_correction_alerts
from alerts.outbox import AlertDispatcher
from api.corrections import correct
from config.flow import AlertChannel, AlertSettings
from db.watchlists import add_entry, create_watchlist
from tests.api.conftest import insert_event
from tests.flows import flow_env
from tests.flows.receiver import AlertReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(settings):
    with psycopg.connect(settings.database.url.get_secret_value(), autocommit=True) as c:
        yield c


def _alerts(conn, event_id):
    return conn.execute(
        "SELECT a.plate, a.entry_id, d.channel, d.status FROM alerts a"
        " LEFT JOIN alert_deliveries d USING (alert_id) WHERE a.event_id = %s ORDER BY a.entry_id",
        (event_id,),
    ).fetchall()


def test_a_corrected_plate_on_a_watchlist_raises_its_alert_once(conn):
    tag = secrets.token_hex(3).upper()
    wanted, misread = f"W{tag}1", f"W{tag}7"
    wl = create_watchlist(conn, f"corr-{tag}", severity="high", channels=["ops"])
    entry = add_entry(conn, wl, wanted)
    event_id = insert_event(conn, plate=misread, camera_id=f"cam-{tag}", first_seen=datetime.now(UTC))
    settings = AlertSettings(channels=(AlertChannel(name="ops", type="slack", url="http://127.0.0.1:9/x"),))

    correct(conn, event_id, wanted, actor="op-1", reason="7 is a 1")
    created = raise_correction_alerts(conn, settings, datetime.now(UTC))
    assert [(d.channel, d.status) for d in created] == [("ops", "pending")]
    assert _alerts(conn, event_id) == [(wanted, entry, "ops", "pending")]
    assert raise_correction_alerts(conn, settings, datetime.now(UTC)) == []  # done: nothing twice

    # Back and forth: each correction is matched, the alert exists once.
    correct(conn, event_id, misread, actor="op-2")
    correct(conn, event_id, wanted, actor="op-1")
    assert raise_correction_alerts(conn, settings, datetime.now(UTC)) == []
    assert len(_alerts(conn, event_id)) == 1
    # The event keeps the flow's read; the corrections keep who did what.
    assert conn.execute("SELECT plate FROM plate_events WHERE event_id = %s", (event_id,)).fetchone()[0] == misread
    history = conn.execute(
        "SELECT previous, plate, actor, alerts_done IS NOT NULL FROM plate_corrections WHERE event_id = %s ORDER BY id",
        (event_id,),
    ).fetchall()
    assert history == [
        (misread, wanted, "op-1", True),
        (wanted, misread, "op-2", True),
        (misread, wanted, "op-1", True),
    ]


def test_the_dispatcher_matches_corrections_and_delivers_them(conn, settings):
    tag = secrets.token_hex(3).upper()
    with AlertReceiver(flow_env.SECRET) as receiver:
        s = flow_env.flow_settings(settings, f"http://127.0.0.1:{receiver.port}")
        wl = create_watchlist(conn, f"corr-d-{tag}", channels=flow_env.channel_names(s))
        add_entry(conn, wl, f"D{tag}")
        event_id = insert_event(conn, plate=f"D{tag}X", camera_id=f"cam-{tag}", first_seen=datetime.now(UTC))
        correct(conn, event_id, f"D{tag}", actor="op")
        with AlertDispatcher(settings.database.url.get_secret_value(), s.flow.alerts) as dispatcher:
            dispatcher.wake()
            assert receiver.wait_for(2, timeout=30)
        assert {d.payload.get("plate") for d in receiver.deliveries if d.path == "/webhook"} == {f"D{tag}"}
        assert {r[3] for r in _alerts(conn, event_id)} == {"delivered"}
