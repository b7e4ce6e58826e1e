"""MQTT (``mqtt://user:pass@broker:1883/topic``): the alert as JSON, for Home Assistant and Frigate users.

The payload is the webhook's JSON body (``StoredAlert.to_json``), so an automation reads
``plate``, ``camera_id``, ``watchlist``, ``severity`` and ``crop_url`` from it directly.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flows.sinks.channels import notify

if TYPE_CHECKING:
    from config.flow import AlertChannel
    from flows.sinks.alerts import StoredAlert


def send(channel: AlertChannel, alert: StoredAlert) -> notify.Outcome:
    """Publish the alert's JSON to the URL's topic."""
    return notify.send(channel, json.dumps(alert.to_json(), sort_keys=True), "")
