"""Signed JSON webhooks: the alert's JSON, ``X-ALPR-Signature`` over it (:func:`alerts.messages.webhook_request`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from alerts.channels.base import Attempt, post
from alerts.messages import webhook_request

if TYPE_CHECKING:
    from alerts.messages import StoredAlert
    from config.flow import AlertChannel


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """One signed POST with the channel's secret, stamped ``now_s``."""
    secret = channel.secret.get_secret_value().encode() if channel.secret else b""
    body, headers = webhook_request(alert, secret, now_s)
    return post(client, channel, body, headers)
