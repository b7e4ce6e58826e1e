"""What an alert channel sends (pure): the alert as read back from the outbox, the signed webhook
request, the Slack message and the plain-text title and body of the other channels."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

USER_AGENT = "alpr-platform/0.1"


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as the delivery worker reads it back from the database."""

    alert_id: str
    event_id: str
    entry_id: int
    watchlist_id: int
    watchlist: str | None
    pattern: str | None
    match_type: str | None
    note: str | None
    plate: str
    camera_id: str
    site: str
    observed_at: datetime
    severity: str
    crop_url: str | None

    def to_json(self) -> dict[str, Any]:
        """The webhook body: every field, ``observed_at`` as ISO 8601 UTC."""
        return {
            "alert_id": self.alert_id,
            "event_id": self.event_id,
            "watchlist": self.watchlist,
            "watchlist_id": self.watchlist_id,
            "entry_id": self.entry_id,
            "pattern": self.pattern,
            "match_type": self.match_type,
            "note": self.note,
            "severity": self.severity,
            "plate": self.plate,
            "camera_id": self.camera_id,
            "site": self.site,
            "observed_at": self.observed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "crop_url": self.crop_url,
        }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>." + body`` with ``secret``."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def webhook_request(alert: StoredAlert, secret: bytes, now_s: float) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed webhook request sent at ``now_s`` (unix seconds)."""
    body = json.dumps(alert.to_json(), sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now_s))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ALPR-Alert-Id": alert.alert_id,
        "Idempotency-Key": alert.alert_id,
        "X-ALPR-Timestamp": timestamp,
        "X-ALPR-Signature": sign(secret, timestamp, body),
    }
    return body, headers


def _esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: StoredAlert) -> dict[str, Any]:
    """A Slack incoming-webhook message (Block Kit): plate, camera, time, list and an image link."""
    watchlist = alert.watchlist or f"#{alert.watchlist_id}"
    when = alert.observed_at.astimezone(UTC)
    epoch = int(when.timestamp())
    iso = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    match = alert.match_type or "match"
    pattern = f" `{_esc(alert.pattern)}`" if alert.pattern else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Watchlist hit: {alert.plate} ({watchlist})"[:150]},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Plate*\n`{_esc(alert.plate)}`"},
                {"type": "mrkdwn", "text": f"*Camera*\n{_esc(alert.camera_id)} ({_esc(alert.site)})"},
                {
                    "type": "mrkdwn",
                    "text": f"*Time*\n<!date^{epoch}^{{date_short_pretty}} {{time_secs}}|{iso}>",
                },
                {"type": "mrkdwn", "text": f"*List*\n{_esc(watchlist)} (severity {_esc(alert.severity)})"},
                {"type": "mrkdwn", "text": f"*Match*\n{_esc(match)}{pattern}"},
            ],
        },
    ]
    if alert.note:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Note*\n{_esc(alert.note)}"[:3000]}})
    if alert.crop_url:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{alert.crop_url}|View the plate image>"},
            }
        )
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "No plate image stored."}]})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"alert `{alert.alert_id}` | event `{alert.event_id}`"}],
        }
    )
    return {
        "text": f"Watchlist hit: {alert.plate} on {alert.camera_id} at {iso} ({watchlist})",
        "blocks": blocks,
    }


def title(alert: StoredAlert) -> str:
    """One line: the plate and the list."""
    return f"Watchlist hit: {alert.plate} ({alert.watchlist or f'#{alert.watchlist_id}'})"


def text(alert: StoredAlert) -> str:
    """Plain text lines: plate, camera, time, list, match, note and the image link (or its absence)."""
    when = alert.observed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"Plate: {alert.plate}",
        f"Camera: {alert.camera_id} ({alert.site})",
        f"Time: {when}",
        f"List: {alert.watchlist or f'#{alert.watchlist_id}'} (severity {alert.severity})",
        f"Match: {alert.match_type or 'match'} {alert.pattern or ''}".rstrip(),
    ]
    if alert.note:
        lines.append(f"Note: {alert.note}")
    lines.append(f"Image: {alert.crop_url}" if alert.crop_url else "No plate image stored.")
    lines.append(f"Alert {alert.alert_id}, event {alert.event_id}")
    return "\n".join(lines)
