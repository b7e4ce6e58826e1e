"""Which channels an alert goes to: its watchlist's, else ``flow.alerts.default_channels``."""

from __future__ import annotations

from config.flow import AlertSettings
from db.alerts import AlertRecord
from operators.records import WatchlistHit


def resolve_channels(settings: AlertSettings, hit: WatchlistHit) -> AlertRecord:
    """Split the hit's channels (its watchlist's, else ``default_channels``) into configured/unknown."""
    configured = {c.name for c in settings.channels}
    names = tuple(dict.fromkeys(hit.entry.channels or settings.default_channels))
    return AlertRecord(
        hit=hit,
        channels=tuple(n for n in names if n in configured),
        unknown_channels=tuple(n for n in names if n not in configured),
    )
