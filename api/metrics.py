"""Prometheus metrics of the API (requests and latency per route template) and its access log."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("api.access")

REQUESTS = Counter(
    "alpr_api_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "code"],
)
LATENCY = Histogram(
    "alpr_api_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_label(scope: Scope) -> str:
    """The matched route's path template (bounded label values), else ``unmatched``."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    """ASGI middleware counting and timing every HTTP request (no per-request task or thread).

    With ``access_log`` each answer is also one ``api.access`` record: method, path (without
    the query string, which may hold plates), status, duration, client address and API key name.
    """

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - started
            route = route_label(scope)
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route, scope["method"]).observe(seconds)
            if self.access_log:
                _log_access(scope, route, status, seconds)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Counted before the last byte leaves: a client that got its answer sees the count.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if not recorded:  # the app failed before answering
                record()


def _log_access(scope: Scope, route: str, status: int, seconds: float) -> None:
    client = scope.get("client")
    actor = str(scope.get("state", {}).get("actor") or "-")
    fields = {
        "method": scope["method"],
        "path": scope.get("path", ""),
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "client": f"{client[0]}:{client[1]}" if client else "-",
        "key": actor,
    }
    access_log.info(
        "%s %s %d %.1fms client=%s key=%s",
        fields["method"],
        fields["path"],
        status,
        fields["duration_ms"],
        fields["client"],
        actor,
        extra=fields,
    )


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (413) and bodies of unknown length (411), before any handler."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            problem = None
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                problem = 413, f"request body larger than {self.max_bytes} bytes"
            elif length is None and headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                problem = 411, "send Content-Length (chunked bodies are refused)"
            if problem is not None:
                from starlette.responses import JSONResponse

                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)
