"""Email through apprise (``mailto://`` plain or STARTTLS, ``mailtos://`` TLS): the alert as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.channels import notify
from alerts.channels.base import Attempt
from alerts.messages import text, title

if TYPE_CHECKING:
    import httpx

    from alerts.messages import StoredAlert
    from config.flow import AlertChannel


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """One email with the alert's title as subject."""
    return notify.send(channel, text(alert), title(alert))
