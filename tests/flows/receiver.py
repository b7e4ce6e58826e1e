"""A real local HTTP receiver for alert deliveries (webhook and Slack), for tests.

:class:`AlertReceiver` serves two endpoints on 127.0.0.1 from a ``ThreadingHTTPServer`` in a
background thread:

- ``POST /webhook`` checks ``X-ALPR-Timestamp`` and ``X-ALPR-Signature: sha256=<hex>``
  (HMAC-SHA256 with the shared secret of ``"<timestamp>." + raw body``); a bad or missing
  signature is answered 401 and recorded in :attr:`AlertReceiver.rejected`.
- ``POST /slack`` checks that the body is a Slack incoming-webhook Block Kit message
  (:func:`slack_problems`); a malformed one is answered 400 (``invalid_blocks``), as Slack does.

Accepted requests are recorded in :attr:`AlertReceiver.deliveries`. The receiver can be stopped
and started again on the same port (an outage), and told to answer the next requests with an
error status. Recorded data survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Block types a message may use, and the text object types Slack accepts.
_BLOCK_TYPES = {"header", "section", "context", "divider", "image", "actions"}
_TEXT_TYPES = {"plain_text", "mrkdwn"}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted request: endpoint, the alert id header, decoded JSON body, raw body."""

    path: str
    alert_id: str | None
    payload: dict[str, Any]
    body: bytes
    received_at: float


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The expected ``X-ALPR-Signature`` value (computed independently of the sender's code)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _text_problems(where: str, obj: Any, *, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in _TEXT_TYPES:
        return [f"{where}: not a text object: {obj!r}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text or len(text) > limit:
        return [f"{where}: text must be 1..{limit} characters"]
    return []


def slack_problems(payload: Any) -> list[str]:
    """What is wrong with an incoming-webhook Block Kit message (empty list: valid).

    Checks the subset of https://api.slack.com/reference/block-kit/blocks the alerts use:
    a fallback ``text``, 1..50 ``blocks`` of known types, header/section/context/image fields.
    """
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    problems: list[str] = []
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("missing fallback text")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*problems, "blocks must be a list of 1..50 blocks"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in _BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
        elif kind == "header":
            problems += _text_problems(f"{where}.text", block.get("text"), limit=150)
            if isinstance(block.get("text"), dict) and block["text"].get("type") != "plain_text":
                problems.append(f"{where}: header text must be plain_text")
        elif kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                problems.append(f"{where}: section needs text or fields")
            if "text" in block:
                problems += _text_problems(f"{where}.text", block["text"], limit=3000)
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    problems.append(f"{where}.fields: 1..10 text objects")
                else:
                    for j, f in enumerate(fields):
                        problems += _text_problems(f"{where}.fields[{j}]", f, limit=2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1..10 elements")
            else:
                for j, e in enumerate(elements):
                    problems += _text_problems(f"{where}.elements[{j}]", e, limit=3000)
        elif kind == "image":
            url = block.get("image_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                problems.append(f"{where}: image_url must be an http(s) URL")
            if not isinstance(block.get("alt_text"), str) or not block["alt_text"]:
                problems.append(f"{where}: image needs alt_text")
    return problems


class _Server(ThreadingHTTPServer):
    """Tracks open connections, so that stopping also cuts keep-alive clients off."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, *args: Any) -> None:
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(*args)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self._sockets_lock:
            self.open_sockets.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._sockets_lock:
            sockets, self.open_sockets = self.open_sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class AlertReceiver:
    """A restartable webhook + Slack receiver on ``127.0.0.1:port`` (0: a free port)."""

    def __init__(self, secret: str, port: int = 0, *, max_skew_s: float = 300.0) -> None:
        self.secret = secret.encode()
        self.port = port
        self.max_skew_s = max_skew_s
        self.deliveries: list[Delivery] = []
        self.rejected: list[tuple[str, str]] = []
        self.requests = 0
        self._fail: list[int] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> AlertReceiver:
        """Listen (again) on the same port; returns self."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), self._handler_class())
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"alert-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.cut_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> AlertReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port>/<path>``."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    # --- test controls ----------------------------------------------------------------
    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` (before any check)."""
        with self._lock:
            self._fail.extend([status] * count)

    def alert_ids(self, path: str | None = None) -> list[str | None]:
        """Alert ids of the accepted deliveries (optionally of one endpoint), in arrival order."""
        with self._lock:
            return [d.alert_id for d in self.deliveries if path is None or d.path == path]

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` deliveries were accepted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    # --- request handling -------------------------------------------------------------
    def _check(self, path: str, headers: Any, body: bytes) -> tuple[int, str, dict[str, Any] | None]:
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "body is not JSON", None
        if path == "/webhook":
            ts = headers.get("X-ALPR-Timestamp", "")
            given = headers.get("X-ALPR-Signature", "")
            if not ts.isdigit() or abs(time.time() - int(ts)) > self.max_skew_s:
                return 401, f"bad timestamp {ts!r}", None
            if headers.get("Content-Type", "").split(";")[0] != "application/json":
                return 415, "content type is not application/json", None
            if not hmac.compare_digest(given, sign(self.secret, ts, body)):
                return 401, "bad signature", None
            return 200, "ok", payload
        if path == "/slack":
            problems = slack_problems(payload)
            if problems:
                return 400, "invalid_blocks: " + "; ".join(problems), None
            return 200, "ok", payload
        return 404, f"no endpoint {path}", None

    def _handle(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        with self._lock:
            self.requests += 1
            if self._fail:
                return self._fail.pop(0), "failing on purpose"
        status, message, payload = self._check(path, headers, body)
        with self._changed:
            if payload is None:
                self.rejected.append((path, message))
            else:
                alert_id = headers.get("X-ALPR-Alert-Id")
                self.deliveries.append(Delivery(path, alert_id, payload, body, time.time()))
                self._changed.notify_all()
        return status, message

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, message = receiver._handle(self.path, self.headers, body)
                data = message.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server API)
                pass

        return Handler
