"""What the apprise channels share: one apprise send with a timeout (never raises)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alerts.channels.base import Attempt

if TYPE_CHECKING:
    from config.flow import AlertChannel


def send(
    channel: AlertChannel,
    body: str,
    subject: str,
    *,
    configure: Callable[[Any], None] | None = None,
    body_format: str = "text",
) -> Attempt:
    """Send once through apprise to ``channel.url`` within ``channel.timeout_s``; never raises."""
    import apprise

    try:
        service = apprise.Apprise.instantiate(channel.url, suppress_exceptions=False)
    except Exception as exc:  # apprise raises plain exceptions for malformed URLs
        return Attempt(False, True, f"channel {channel.name!r}: not a usable apprise URL: {type(exc).__name__}: {exc}")
    if service is None:
        return Attempt(False, True, f"channel {channel.name!r}: not a usable apprise URL")
    service.socket_connect_timeout = channel.timeout_s
    service.socket_read_timeout = channel.timeout_s
    if configure is not None:
        configure(service)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(service.notify(body=body, title=subject, body_format=body_format))
        except Exception as exc:  # a plugin bug must not kill the sender thread
            return Attempt(False, True, f"{type(exc).__name__}: {exc}")
        problems = captured.getvalue().strip()
    # apprise does not tell a permanent refusal from an outage: every failure is retried.
    return Attempt(True) if ok else Attempt(False, True, (problems.splitlines() or ["apprise: not sent"])[-1][:300])
