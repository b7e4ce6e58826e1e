"""ntfy (``ntfy://host/topic``, ``ntfys://`` for https; a self-hosted server or ntfy.sh)."""

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
    """One ntfy message; tapping it opens the plate image when one is stored."""

    def click_opens_image(service: object) -> None:
        if alert.crop_url:
            service.click = alert.crop_url  # type: ignore[attr-defined]

    return notify.send(channel, text(alert), title(alert), configure=click_opens_image)
