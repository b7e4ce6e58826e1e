"""What every alert channel shares: the outcome of one attempt, the ``send`` signature and an HTTP POST."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from alerts.messages import StoredAlert
    from config.flow import AlertChannel

_RETRYABLE_STATUS = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class Attempt:
    """Outcome of one delivery attempt; ``retryable`` only matters when not ``ok``."""

    ok: bool
    retryable: bool = True
    error: str | None = None


#: ``send(client, channel, alert, now_s) -> Attempt``: one delivery attempt that never raises
#: (``client`` for HTTP channels, ``now_s`` the unix time, e.g. for signatures).
Send = Callable[[httpx.Client, "AlertChannel", "StoredAlert", float], Attempt]


def post(client: httpx.Client, channel: AlertChannel, body: bytes, headers: dict[str, str]) -> Attempt:
    """POST ``body`` to ``channel.url`` within ``channel.timeout_s``: ok on 2xx; a 5xx, 408, 425, 429
    or a transport error is retryable, another 4xx is not."""
    try:
        response = client.post(channel.url, content=body, headers=headers, timeout=channel.timeout_s)
    except httpx.HTTPError as exc:
        return Attempt(False, True, f"{type(exc).__name__}: {exc}".strip())
    if 200 <= response.status_code < 300:
        return Attempt(True)
    detail = f"HTTP {response.status_code}: {response.text[:200].strip()}"
    retryable = response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS
    return Attempt(False, retryable, detail)
