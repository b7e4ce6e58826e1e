"""Alert channels sent through apprise (https://github.com/caronc/apprise), one module per type.

Each module has ``send(channel, alert) -> (ok, error)``; :data:`SENDERS` maps the channel
``type`` of ``flow.alerts.channels`` to it. Webhook and Slack are sent by
:mod:`flows.sinks.alerts` itself. Delivery goes through the same outbox as every channel (one
``alert_deliveries`` row per alert and channel, retries, dead letters): a failed apprise send is
retried, since apprise does not tell a permanent refusal from an outage.
"""

from __future__ import annotations

from collections.abc import Callable

from flows.sinks.channels import email, mqtt, ntfy, teams, telegram
from flows.sinks.channels.notify import Outcome

SENDERS: dict[str, Callable[..., Outcome]] = {
    "email": email.send,
    "teams": teams.send,
    "telegram": telegram.send,
    "ntfy": ntfy.send,
    "mqtt": mqtt.send,
}
