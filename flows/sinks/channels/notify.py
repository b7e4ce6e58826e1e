"""What the apprise channels share: the alert as a title and text, one apprise send with a timeout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert

Outcome = tuple[bool, str | None]


def title(alert: StoredAlert) -> str:
    """One line: the plate and the list."""
    return f"Watchlist hit: {alert.plate} ({alert.watchlist or f'#{alert.watchlist_id}'})"


def text(alert: StoredAlert) -> str:
    """Plain text lines: plate, camera, time, list, match, note and the image link (or its absence)."""
    when = alert.observed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"Plate: {alert.plate}",
        f"Camera: {alert.camera_id} ({alert.site})",
        f"Time: {when}",
        f"List: {alert.watchlist or f'#{alert.watchlist_id}'} (severity {alert.severity})",
        f"Match: {alert.match_type or 'match'} {alert.pattern or ''}".rstrip(),
    ]
    if alert.note:
        lines.append(f"Note: {alert.note}")
    lines.append(f"Image: {alert.crop_url}" if alert.crop_url else "No plate image stored.")
    lines.append(f"Alert {alert.alert_id}, event {alert.event_id}")
    return "\n".join(lines)


def send(
    channel: AlertChannel,
    body: str,
    subject: str,
    *,
    configure: Callable[[Any], None] | None = None,
    body_format: str = "text",
) -> Outcome:
    """Send once through apprise to ``channel.url`` within ``channel.timeout_s``; never raises."""
    import apprise

    try:
        service = apprise.Apprise.instantiate(channel.url, suppress_exceptions=False)
    except Exception as exc:  # apprise raises plain exceptions for malformed URLs
        return False, f"channel {channel.name!r}: not a usable apprise URL: {type(exc).__name__}: {exc}"
    if service is None:
        return False, f"channel {channel.name!r}: not a usable apprise URL"
    service.socket_connect_timeout = channel.timeout_s
    service.socket_read_timeout = channel.timeout_s
    if configure is not None:
        configure(service)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(service.notify(body=body, title=subject, body_format=body_format))
        except Exception as exc:  # a plugin bug must not kill the sender thread
            return False, f"{type(exc).__name__}: {exc}"
        problems = captured.getvalue().strip()
    return (True, None) if ok else (False, (problems.splitlines() or ["apprise: not sent"])[-1][:300])
