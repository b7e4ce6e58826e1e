"""Telegram (``tgram://BOT_TOKEN/CHAT_ID``); ``api_base`` points at a self-hosted Bot API server."""

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
    """One Telegram message to the chat."""

    def server(service: object) -> None:
        if channel.api_base:
            service.notify_url = channel.api_base.rstrip("/") + "/bot"  # type: ignore[attr-defined]

    return notify.send(channel, text(alert), title(alert), configure=server)
