"""Microsoft Teams through a Power Automate workflow (``workflows://host/WORKFLOW/SIGNATURE``).

Microsoft retired the Office 365 connectors' incoming webhooks; Teams channels now receive
posts through a "Post to a channel when a webhook request is received" workflow, whose URL
apprise takes in this form.
"""

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
    """One Adaptive Card message in the channel."""
    return notify.send(channel, text(alert), title(alert))
