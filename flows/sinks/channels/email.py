"""Email through apprise (``mailto://`` plain or STARTTLS, ``mailtos://`` TLS): the alert as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.sinks.channels import notify

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert


def send(channel: AlertChannel, alert: StoredAlert) -> notify.Outcome:
    """One email with the alert's title as subject."""
    return notify.send(channel, notify.text(alert), notify.title(alert))
