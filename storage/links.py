"""Presigned links to stored crops, for the S3 endpoint that people and alert receivers reach.

Inside the stack the flow and the API talk to S3 at ``s3.endpoint`` (``minio:9000`` in the
compose file), a name nobody outside resolves, and the bucket is private. Every link handed out
(API answers, webhook and Slack alerts, the alerts topic) is therefore a GET URL presigned for
``s3.public_endpoint`` (the published MinIO port or a reverse proxy in front of it) with an
expiry. Presigning is a local HMAC computation (the region is known), so no request is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from minio import Minio

from config.settings import S3Settings

__all__ = ["CropLink", "CropLinks"]


@dataclass(frozen=True, slots=True)
class CropLink:
    """A presigned GET URL and the moment it stops working."""

    url: str
    expires_at: datetime


class CropLinks:
    """Presigns ``GET`` links to keys of the crops bucket for ``s3.public_endpoint``."""

    def __init__(self, s3: S3Settings) -> None:
        self.bucket = s3.bucket
        self._client = Minio(
            s3.link_endpoint,
            access_key=s3.access_key,
            secret_key=s3.secret_key.get_secret_value(),
            secure=s3.link_secure,
            region=s3.region,  # known region: presigning needs no request
        )

    def link(self, key: str, expires_s: int, now: datetime | None = None) -> CropLink:
        """A link to ``key`` valid for ``expires_s`` seconds (at most 7 days, the S3 limit)."""
        expires = timedelta(seconds=max(1, min(expires_s, 7 * 24 * 3600)))
        at = now or datetime.now(UTC)
        url = self._client.presigned_get_object(self.bucket, key, expires=expires, request_date=at)
        return CropLink(url, at + expires)

    def url(self, key: str, expires_s: int) -> str:
        """Only the URL of :meth:`link`."""
        return self.link(key, expires_s).url
