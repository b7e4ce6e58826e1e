"""The API (with the console) served by uvicorn in a thread, on a port that survives a restart."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from config.settings import Settings


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleServer:
    """``create_app(settings)`` on ``127.0.0.1:port``; :meth:`restart` stops it and serves a new app."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ConsoleServer:
        """Serve a fresh app; returns once it accepts connections."""
        from api.app import create_app

        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="console-server")
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving (open streams are cut after a second)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            assert not self._thread.is_alive(), "uvicorn did not stop"
        self._server = self._thread = None

    def restart(self) -> None:
        """Stop, then serve a new app on the same port (as a process restart would)."""
        self.stop()
        self.start()
