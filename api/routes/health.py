"""Liveness (/health) and readiness (/ready: database, object storage, broker)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import services
from api.models import Readiness
from api.storage import StorageError
from config.kafka import KafkaSettings, client_config

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is up")
def health() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


class BrokerCheck:
    """Asks the cluster for its metadata with the platform's client settings (TLS, SASL included),
    so a broker that answers but refuses our credentials is not ready. One admin client, reused."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 2.0) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        """Raise ``OSError`` unless the cluster answered a metadata request within the timeout."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        with self._lock:
            if self._client is None:
                # Errors come back in the answer; librdkafka's own log lines would repeat them.
                self._client = AdminClient(client_config(self._kafka, log_level=0))
            client = self._client
        try:
            client.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            raise OSError(str(exc.args[0] if exc.args else exc)) from exc


def broker_check(request: Request) -> BrokerCheck:
    """The app's :class:`BrokerCheck` (made on first use)."""
    state = request.app.state
    check = getattr(state, "broker_check", None)
    if check is None:
        check = state.broker_check = BrokerCheck(services(request).settings.kafka)
    return check


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Database, object storage and broker answer",
    responses={503: {"model": Readiness}},
)
def ready(request: Request) -> Any:
    """200 when every dependency answers, else 503 with the failing checks."""
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        with svc.pool.connection(timeout=min(2.0, svc.settings.api.pool_timeout_s)) as conn:
            conn.execute("SELECT 1 FROM plate_events LIMIT 0")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"{type(exc).__name__}: {exc}"
    try:
        svc.images.ready()
        checks["s3"] = "ok"
    except StorageError as exc:
        checks["s3"] = str(exc)
    try:
        broker_check(request)()
        checks["broker"] = "ok"
    except OSError as exc:
        checks["broker"] = str(exc)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)
