"""What every local service looks like to the orchestration in :mod:`services.stack`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.process import Launch


@dataclass(frozen=True)
class Health:
    """Result of one health probe."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Skip:
    """A service that will not be started here, and why (missing binary, external server...)."""

    reason: str
    external: bool = False


class Service(Protocol):
    """One local service: how to launch it, where it listens and how to tell it is healthy."""

    name: str
    depends_on: tuple[str, ...]
    stop_signal: int

    def identity(self) -> str:
        """A string in the command line of its process (tells a live PID from a reused one)."""
        ...

    def disabled(self) -> str | None:
        """Why this service is switched off here (settings, missing module), or None."""
        ...

    def address(self) -> str:
        """Where clients reach it (``host:port`` or a URL)."""
        ...

    def ports(self) -> tuple[int, ...]:
        """Every loopback port the process will listen on (checked free before start)."""
        ...

    def prepare(self) -> Launch | Skip:
        """Write config files and data dirs; return how to launch it, or why not to."""
        ...

    def probe(self) -> Health:
        """A quick health check with a short timeout; never raises."""
        ...

    def after_start(self) -> None:
        """Run once it is healthy (create buckets...). Must be idempotent."""
        ...

    def after_stop(self) -> None:
        """Run once its process has been stopped by ``down`` (forget what it published)."""
        ...
