"""MQTT (``mqtt://user:pass@broker:1883/topic``): the alert as JSON, for Home Assistant and Frigate users.

The payload is the webhook's JSON body (``StoredAlert.to_json``), so an automation reads
``plate``, ``camera_id``, ``watchlist``, ``severity`` and ``crop_url`` from it directly.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from alerts.channels import notify
from alerts.channels.base import Attempt

if TYPE_CHECKING:
    import httpx

    from alerts.messages import StoredAlert
    from config.flow import AlertChannel


def send(client: httpx.Client, channel: AlertChannel, alert: StoredAlert, now_s: float) -> Attempt:
    """Publish the alert's JSON to the URL's topic."""
    return notify.send(channel, json.dumps(alert.to_json(), sort_keys=True), "")
