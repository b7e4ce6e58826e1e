"""Alert channels through apprise, each against a real local receiver: SMTP (aiosmtpd), ntfy and
Telegram-style HTTP APIs on loopback, MQTT on the local Mosquitto broker; and the image link of an
alert is a presigned URL that opens."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest

from alerts.channels import send
from alerts.messages import StoredAlert
from alerts.outbox import AlertDispatcher
from config.flow import AlertChannel, AlertSettings

pytestmark = pytest.mark.integration
MQTT = ("127.0.0.1", 1883)


def _alert(**changes: Any) -> StoredAlert:
    fields = dict(
        alert_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()), entry_id=7, watchlist_id=3, watchlist="stolen",
        pattern="LZW9715", match_type="exact", note="case 118 <b>x</b>", plate="LZW9715", camera_id="north-gate",
        site="depot", observed_at=datetime(2026, 11, 2, 8, 30, tzinfo=UTC), severity="high",
        crop_url="http://127.0.0.1:9/alpr-crops/crops/x.jpg",
    )  # fmt: skip
    return StoredAlert(**{**fields, **changes})


class HttpReceiver:
    """Records every POST on loopback and answers ``reply`` (JSON) with 200."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        reply_body = json.dumps(reply or {"ok": True}).encode()
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply_body)))
                self.end_headers()
                self.wfile.write(reply_body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http():
    receivers: list[HttpReceiver] = []

    def make(reply: dict[str, Any] | None = None) -> HttpReceiver:
        receivers.append(HttpReceiver(reply))
        return receivers[-1]

    yield make
    for r in receivers:
        r.close()


def test_email_reaches_an_smtp_server(http):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[Any] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = AlertChannel(
            name="mail", type="email",
            url=f"mailto://127.0.0.1:{port}?from=alpr@example.org&to=ops@example.org&mode=insecure",
        )  # fmt: skip
        attempt = send(httpx.Client(), channel, _alert(), time.time())
        assert attempt.ok, attempt.error
        (msg,) = inbox.messages
        text = msg.content.decode()
        assert msg.rcpt_tos == ["ops@example.org"] and "Watchlist hit: LZW9715 (stolen)" in text
        assert "north-gate" in text and "http://127.0.0.1:9/alpr-crops/crops/x.jpg" in text
    finally:
        controller.stop()


def test_ntfy_and_telegram_post_to_their_apis(http):
    ntfy = http()
    channel = AlertChannel(name="n", type="ntfy", url=f"ntfy://127.0.0.1:{ntfy.port}/alpr-alerts")
    attempt = send(httpx.Client(), channel, _alert(), time.time())
    assert attempt.ok, attempt.error
    (path, headers, body) = ntfy.requests[0]
    payload = json.loads(body) if body.startswith(b"{") else {"message": body.decode()}
    assert "LZW9715" in json.dumps(payload) and headers.get("X-Click", payload.get("click", "")).endswith("x.jpg")

    tg = http({"ok": True, "result": {"message_id": 1}})
    channel = AlertChannel(
        name="t", type="telegram", url="tgram://123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKKlll/4242",
        api_base=f"http://127.0.0.1:{tg.port}",
    )  # fmt: skip
    attempt = send(httpx.Client(), channel, _alert(), time.time())
    assert attempt.ok, attempt.error
    path, _headers, body = tg.requests[-1]
    sent = json.loads(body)
    assert path == "/bot123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKKlll/sendMessage"
    assert str(sent["chat_id"]) == "4242" and "LZW9715" in sent["text"]


def test_a_refusing_service_is_a_retryable_failure_with_the_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    channel = AlertChannel(name="n", type="ntfy", url=f"ntfy://127.0.0.1:{port}/t", timeout_s=2)
    attempt = send(httpx.Client(), channel, _alert(), time.time())
    assert not attempt.ok and attempt.retryable and attempt.error
    teams = AlertChannel(name="m", type="teams", url=f"workflows://127.0.0.1:{port}/wf/sig", timeout_s=2)
    attempt = send(httpx.Client(), teams, _alert(), time.time())
    assert not attempt.ok and attempt.retryable


def test_bad_channel_urls_are_config_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="email channel needs a mailto"):
        AlertChannel(name="x", type="email", url="https://example.org")
    with pytest.raises(ValidationError, match="mqtt channel needs"):
        AlertChannel(name="x", type="mqtt", url="ntfy://example.org/t")


def test_mqtt_publishes_the_alert_json_to_the_broker():
    import paho.mqtt.client as mqtt

    try:
        socket.create_connection(MQTT, timeout=1).close()
    except OSError:
        pytest.skip("no MQTT broker (Mosquitto) at 127.0.0.1:1883")
    topic = f"alpr/test/{secrets.token_hex(4)}"
    got: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    client.connect(*MQTT)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        alert = _alert()
        attempt = send(
            httpx.Client(), AlertChannel(name="m", type="mqtt", url=f"mqtt://127.0.0.1:1883/{topic}"), alert, 0
        )
        assert attempt.ok, attempt.error
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        payload = json.loads(got[0])
        assert payload["plate"] == "LZW9715" and payload["alert_id"] == alert.alert_id
    finally:
        client.loop_stop()
        client.disconnect()


def test_the_alert_image_link_is_presigned_and_opens(settings, http):
    from db.watchlists import create_watchlist
    from flows.sinks.s3 import CropStore, crop_presigner
    from tests.api.conftest import insert_alert, insert_event

    ntfy = http()
    store = CropStore(settings.s3)
    store.ensure_bucket()
    key = f"crops/test/{uuid.uuid4()}.jpg"
    jpeg = b"\xff\xd8\xff\xe0 a crop"
    store.put_object(key, jpeg, {})
    tag = secrets.token_hex(3)
    channel = AlertChannel(name=f"ntfy-{tag}", type="ntfy", url=f"ntfy://127.0.0.1:{ntfy.port}/alerts")
    with psycopg.connect(settings.database.url.get_secret_value(), autocommit=True) as conn:
        wl = create_watchlist(conn, f"img-{tag}")
        event = insert_event(conn, plate="IMG1", camera_id=f"cam-{tag}", first_seen=datetime.now(UTC), crop_key=key)
        insert_alert(conn, event_id=event, watchlist_id=wl, plate="IMG1", camera_id=f"cam-{tag}",
                     observed_at=datetime.now(UTC), channels={channel.name: "pending"})  # fmt: skip
    alerts = AlertSettings(channels=(channel,), poll_s=0.1)
    with AlertDispatcher(settings.database.url.get_secret_value(), alerts, presign=crop_presigner(settings.s3, 600)):
        deadline = time.monotonic() + 20
        while not ntfy.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    body = ntfy.requests[0][2].decode()
    link = next(w for w in body.replace('"', " ").replace("\\n", " ").split() if "X-Amz-Signature=" in w)
    assert "X-Amz-Expires=600" in link
    opened = httpx.get(link)
    assert opened.status_code == 200 and opened.content == jpeg
