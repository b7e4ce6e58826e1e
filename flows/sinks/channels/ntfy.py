"""ntfy (``ntfy://host/topic``, ``ntfys://`` for https; a self-hosted server or ntfy.sh)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.sinks.channels import notify

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert


def send(channel: AlertChannel, alert: StoredAlert) -> notify.Outcome:
    """One ntfy message; tapping it opens the plate image when one is stored."""

    def click_opens_image(service: object) -> None:
        if alert.crop_url:
            service.click = alert.crop_url  # type: ignore[attr-defined]

    return notify.send(channel, notify.text(alert), notify.title(alert), configure=click_opens_image)
