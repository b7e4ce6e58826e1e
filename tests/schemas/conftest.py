"""A dev registry served in this process (memory log) for the codec tests: fast, real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from services.registry import MemoryLog, Registry, make_server


@pytest.fixture(scope="session")
def registry_url() -> Iterator[str]:
    """URL of a fresh in-process dev registry (nothing persisted)."""
    server = make_server("127.0.0.1", 0, Registry(MemoryLog()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
