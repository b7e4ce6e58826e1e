"""Microsoft Teams through a Power Automate workflow (``workflows://host/WORKFLOW/SIGNATURE``).

Microsoft retired the Office 365 connectors' incoming webhooks; Teams channels now receive
posts through a "Post to a channel when a webhook request is received" workflow, whose URL
apprise takes in this form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.sinks.channels import notify

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert


def send(channel: AlertChannel, alert: StoredAlert) -> notify.Outcome:
    """One Adaptive Card message in the channel."""
    return notify.send(channel, notify.text(alert), notify.title(alert))
