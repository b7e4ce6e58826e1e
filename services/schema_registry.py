"""Runs the dev-only schema registry (:mod:`services.registry`) as a subprocess.

The registry keeps its schemas in the broker (a compacted ``_schemas`` topic), so it starts
after the broker and is healthy when ``GET /subjects`` answers 200.
"""

from __future__ import annotations

import importlib.util
import signal
import sys

import httpx

from config.settings import Settings
from services.base import Health, Skip
from services.process import Launch

HOST = "127.0.0.1"
MODULE = "services.registry"


class SchemaRegistry:
    """``python -m services.registry`` on ``127.0.0.1:services.ports.registry``."""

    stop_signal = signal.SIGTERM
    name = "registry"
    depends_on: tuple[str, ...] = ("broker",)

    def __init__(self, settings: Settings) -> None:
        self._port = settings.services.ports.registry
        self._broker = f"{HOST}:{settings.services.ports.broker}"

    def identity(self) -> str:
        return MODULE

    def disabled(self) -> str | None:
        return None if importlib.util.find_spec(MODULE) else f"{MODULE} is not available"

    def address(self) -> str:
        return f"http://{HOST}:{self._port}"

    def ports(self) -> tuple[int, ...]:
        return (self._port,)

    def prepare(self) -> Launch | Skip:
        argv = (
            sys.executable,
            "-m",
            MODULE,
            "--host",
            HOST,
            "--port",
            str(self._port),
            "--bootstrap-servers",
            self._broker,
        )
        return Launch(argv=argv)

    def probe(self) -> Health:
        try:
            response = httpx.get(f"{self.address()}/subjects", timeout=1.0)
        except httpx.HTTPError as exc:
            return Health(False, f"GET /subjects failed: {type(exc).__name__}: {exc}")
        if response.status_code != 200:
            return Health(False, f"GET /subjects answered {response.status_code}")
        return Health(True, f"{len(response.json())} subject(s)")

    def after_start(self) -> None:
        return None

    def after_stop(self) -> None:
        return None
