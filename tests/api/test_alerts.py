"""Alert history with delivery status, and redelivery through the flow's pending queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import insert_alert, insert_event

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.mark.integration
def test_alert_history_and_redeliver(db, reader, admin):
    from api import watchlists

    cam = f"alr-{uuid.uuid4().hex[:6]}"
    wl = watchlists.create(db, cam, channels=["webhook", "slack"])
    ok_event = insert_event(db, plate="AL111AA", camera_id=cam, first_seen=T0)
    bad_event = insert_event(db, plate="AL222BB", camera_id=cam, first_seen=T0 + timedelta(minutes=1))
    delivered = insert_alert(
        db,
        event_id=ok_event,
        watchlist_id=wl.id,
        plate="AL111AA",
        camera_id=cam,
        observed_at=T0,
        channels={"webhook": "delivered"},
    )
    failed = insert_alert(
        db,
        event_id=bad_event,
        watchlist_id=wl.id,
        plate="AL222BB",
        camera_id=cam,
        observed_at=T0 + timedelta(minutes=1),
        channels={"webhook": "failed", "slack": "delivered"},
    )

    listed = reader.get("/alerts", params={"watchlist_id": wl.id}).json()
    assert [a["alert_id"] for a in listed["items"]] == [str(failed), str(delivered)]
    assert listed["items"][0]["watchlist"] == cam
    assert {d["channel"]: d["status"] for d in listed["items"][0]["deliveries"]} == {
        "slack": "delivered",
        "webhook": "failed",
    }
    only_failed = reader.get("/alerts", params={"watchlist_id": wl.id, "status": "failed"}).json()["items"]
    assert [a["alert_id"] for a in only_failed] == [str(failed)]
    page1 = reader.get("/alerts", params={"watchlist_id": wl.id, "limit": 1}).json()
    page2 = reader.get("/alerts", params={"watchlist_id": wl.id, "limit": 1, "cursor": page1["next_cursor"]}).json()
    assert [a["alert_id"] for a in page1["items"] + page2["items"]] == [str(failed), str(delivered)]
    assert page2["next_cursor"] is None

    detail = reader.get(f"/events/{bad_event}").json()
    assert [a["alert_id"] for a in detail["alerts"]] == [str(failed)]

    assert reader.post(f"/alerts/{failed}/redeliver").status_code == 403
    redone = admin.post(f"/alerts/{failed}/redeliver", params={"channel": "webhook"})
    assert redone.status_code == 200, redone.text
    states = {d["channel"]: (d["status"], d["attempts"], d["last_error"]) for d in redone.json()["deliveries"]}
    assert states == {"webhook": ("pending", 0, None), "slack": ("delivered", 1, None)}
    assert admin.post(f"/alerts/{failed}/redeliver", params={"channel": "pager"}).status_code == 404
    assert admin.post(f"/alerts/{uuid.uuid4()}/redeliver").status_code == 404
    audit = db.execute(
        "SELECT details FROM audit_log WHERE action = 'alerts.redeliver' AND details->>'alert_id' = %s",
        (str(failed),),
    ).fetchone()
    assert audit[0]["deliveries"] == 1


@pytest.mark.integration
def test_redelivered_alert_is_sent_again_by_the_flow_dispatcher(db, admin, api_settings):
    """Redeliver -> pending -> the flow's AlertDispatcher posts it to the webhook once more."""
    import http.server
    import threading
    import time

    from pydantic import SecretStr

    from alerts.outbox import AlertDispatcher
    from api import watchlists
    from config.flow import AlertChannel, AlertSettings

    received: list[str] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers["X-ALPR-Alert-Id"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel = f"hook-{uuid.uuid4().hex[:6]}"
    cam = f"redo-{uuid.uuid4().hex[:6]}"
    wl = watchlists.create(db, cam, channels=[channel])
    event = insert_event(db, plate="RD123AA", camera_id=cam, first_seen=T0)
    alert = insert_alert(
        db,
        event_id=event,
        watchlist_id=wl.id,
        plate="RD123AA",
        camera_id=cam,
        observed_at=T0,
        channels={channel: "failed"},
    )
    settings = AlertSettings(
        channels=(
            AlertChannel(
                name=channel,
                type="webhook",
                url=f"http://127.0.0.1:{server.server_port}/",
                secret=SecretStr("s3cret"),
            ),
        ),
        poll_s=0.1,
    )
    url = api_settings.database.url.get_secret_value()
    with AlertDispatcher(url, settings, name=f"test-{channel}"):
        time.sleep(0.5)
        assert received == []  # failed rows are left alone
        assert admin.post(f"/alerts/{alert}/redeliver").status_code == 200
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
    server.shutdown()
    assert received == [str(alert)]
    status = db.execute("SELECT status FROM alert_deliveries WHERE alert_id = %s", (alert,)).fetchone()[0]
    assert status == "delivered"
