"""Slack incoming webhooks: a Block Kit message (:func:`alerts.messages.slack_message`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from alerts.channels.base import Attempt, post
from alerts.messages import USER_AGENT, slack_message

if TYPE_CHECKING:
    from alerts.messages import StoredAlert
    from config.flow import AlertChannel


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """One POST of the message."""
    body = json.dumps(slack_message(alert), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-ALPR-Alert-Id": alert.alert_id}
    return post(client, channel, body, headers)
