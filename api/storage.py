"""Crop images in object storage: presigned URLs, deletion, listing by age."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from urllib.parse import unquote

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from config.settings import S3Settings
from storage.links import CropLinks

log = logging.getLogger(__name__)
CROP_PREFIX = "crops/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def crop_prefix(camera_id: str, day: date) -> str:
    """``crops/YYYY/MM/DD/<camera>/``: where the flow stores the crops of a camera's passes of
    ``day`` (UTC), by the key rule of ``flows.sinks.s3.crop_key`` (the API does not import the flow)."""
    return f"{CROP_PREFIX}{day:%Y/%m/%d}/{_UNSAFE.sub('_', camera_id) or '_'}/"


class StorageError(RuntimeError):
    """Object storage refused or could not be reached."""


class CropImages:
    """The crops bucket, through the ``minio`` client (short timeouts, no retries)."""

    def __init__(self, s3: S3Settings, *, timeout_s: float = 5.0) -> None:
        self.bucket = s3.bucket
        self.presign_seconds = s3.presign_seconds
        self.client = Minio(
            s3.endpoint,
            access_key=s3.access_key,
            secret_key=s3.secret_key.get_secret_value(),
            secure=s3.secure,
            region=s3.region,  # known region: presigning needs no request
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s), retries=urllib3.Retry(total=0)
            ),
        )
        self._links = CropLinks(s3)

    def presigned_url(self, key: str) -> str:
        """A GET URL for ``key`` on ``s3.public_endpoint``, valid ``s3.presign_seconds`` (computed locally)."""
        return self._links.url(key, self.presign_seconds)

    def ready(self) -> None:
        """Raise :class:`StorageError` unless the bucket answers."""
        try:
            if not self.client.bucket_exists(self.bucket):
                raise StorageError(f"bucket {self.bucket!r} does not exist")
        except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"object storage: {exc}") from exc

    def delete(self, keys: Iterable[str]) -> int:
        """Delete ``keys`` (absent ones count as deleted); returns how many were asked."""
        keys = sorted(set(keys))
        if not keys:
            return 0
        try:
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"deleting {len(keys)} object(s): {exc}") from exc
        if errors:
            raise StorageError(f"deleting objects: {errors[0].code} {errors[0].message} ({len(errors)} failed)")
        return len(keys)

    def read(self, key: str, *, max_bytes: int = 8 * 1024 * 1024) -> tuple[bytes, str] | None:
        """The object's bytes and content type, or None when it is not stored (larger: StorageError)."""
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise StorageError(f"get {key}: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"get {key}: {exc}") from exc
        try:
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise StorageError(f"{key} is larger than {max_bytes} bytes")
            return data, response.headers.get("Content-Type") or "application/octet-stream"
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise StorageError(f"stat {key}: {exc}") from exc
        return True

    def keys_under(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        try:
            objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            return [o.object_name for o in objects if o.object_name]
        except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"listing {prefix}: {exc}") from exc

    def metadata(self, key: str) -> dict[str, str]:
        """User metadata of ``key`` (``camera``, ``plate``, ``event-id`` ...), decoded; {} when absent."""
        try:
            stat = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return {}
            raise StorageError(f"stat {key}: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"stat {key}: {exc}") from exc
        prefix = "x-amz-meta-"
        return {
            k.lower()[len(prefix) :]: unquote(v)
            for k, v in (stat.metadata or {}).items()
            if k.lower().startswith(prefix)
        }

    def older_than(self, cutoff: datetime, prefix: str = CROP_PREFIX) -> Iterator[str]:
        """Keys under ``prefix`` last modified before ``cutoff``."""
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.last_modified is not None and obj.last_modified < cutoff and obj.object_name:
                    yield obj.object_name
        except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"listing {prefix}: {exc}") from exc
