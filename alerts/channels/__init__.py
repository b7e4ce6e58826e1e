"""Alert channels, one module per ``type`` of ``flow.alerts.channels``, behind one ``send``.

Each module has ``send(client, channel, alert, now_s) -> Attempt`` (:data:`alerts.channels.base.Send`);
:data:`SENDERS` maps the channel type to it. ``webhook`` and ``slack`` POST themselves; the others
go through apprise (https://github.com/caronc/apprise, :mod:`alerts.channels.notify`). A new
channel is one module here, one line in :data:`SENDERS` and its type in ``config.flow``. Delivery
goes through the same outbox for every channel (one ``alert_deliveries`` row per alert and
channel, retries, dead letters).
"""

from __future__ import annotations

import httpx

from alerts.channels import email, mqtt, ntfy, slack, teams, telegram, webhook
from alerts.channels.base import Attempt, Send
from alerts.messages import StoredAlert
from config.flow import AlertChannel

SENDERS: dict[str, Send] = {
    "webhook": webhook.send,
    "slack": slack.send,
    "email": email.send,
    "teams": teams.send,
    "telegram": telegram.send,
    "ntfy": ntfy.send,
    "mqtt": mqtt.send,
}


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """One delivery attempt of ``alert`` on ``channel`` (never raises)."""
    return SENDERS[channel.type](client, channel, alert, now_s)
