"""Telegram (``tgram://BOT_TOKEN/CHAT_ID``); ``api_base`` points at a self-hosted Bot API server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.sinks.channels import notify

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert


def send(channel: AlertChannel, alert: StoredAlert) -> notify.Outcome:
    """One Telegram message to the chat."""

    def server(service: object) -> None:
        if channel.api_base:
            service.notify_url = channel.api_base.rstrip("/") + "/bot"  # type: ignore[attr-defined]

    return notify.send(channel, notify.text(alert), notify.title(alert), configure=server)
