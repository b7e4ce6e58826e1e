"""S3 crop store: the best crop of each plate event at a deterministic key.

Key: ``crops/YYYY/MM/DD/<camera>/<event_id>.<ext>`` (date of the event's ``first_seen``, UTC),
so a replayed or updated event overwrites its own object and never leaves a duplicate. The
object carries user metadata (camera, site, plate, event id, first seen; each value
percent-encoded outside printable ASCII, :func:`header_value`, as HTTP headers require) and
the event carries ``crop_key`` plus ``crop_url`` (a plain path-style URL; readers presign
from the key).

Runs as a map step before the PostgreSQL sink: :meth:`CropStore.event_from_read` (one read)
or :meth:`CropStore.events_from_reads` (a batch, uploaded concurrently, for
``op.flat_map_batch``). An upload that keeps failing does not stop the flow: the event goes on
without a crop and the crop is kept in PostgreSQL for a later upload (:mod:`flows.crop_retries`),
which links it to the event when object storage is back; only when that fails too does the crop
go to the dead-letter callback with the reason, so it is not lost.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import obstore
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from obstore.exceptions import BaseError as ObjectStoreError
from obstore.store import S3Store

from config.settings import S3Settings
from flows.crop_retries import CropRetries
from operators.records import DeadLetter, DeadLetterFn, PlateEvent, PlateRead
from operators.text import one_line

log = logging.getLogger(__name__)


_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Printable ASCII but "%": kept as is in metadata values; anything else is percent-encoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%")


def header_value(value: str) -> str:
    """``value`` as an HTTP header value: UTF-8 percent-encoded outside printable ASCII (and ``%``).

    Header values may not hold control characters (obstore panicked on a NUL or newline);
    ``urllib.parse.unquote`` gives the value back.
    """
    return quote(value, safe=_HEADER_SAFE)


class CropStoreError(RuntimeError):
    """A crop could not be stored (after retries)."""


class CropRefusedError(CropStoreError):
    """The client refused the request itself (retrying later cannot help)."""


def _extension(image_format: str) -> str:
    fmt = image_format.lower().lstrip(".")
    return "jpg" if fmt in ("jpeg", "jpg") else fmt


def crop_key(camera_id: str, event_id: str, first_seen: datetime, image_format: str = "jpeg") -> str:
    """``crops/YYYY/MM/DD/<camera>/<event_id>.<ext>``; characters unsafe in a key become ``_``."""
    day = first_seen.astimezone(UTC)
    camera = _UNSAFE.sub("_", camera_id) or "_"
    return f"crops/{day:%Y/%m/%d}/{camera}/{event_id}.{_extension(image_format)}"


@dataclass(frozen=True, slots=True)
class StoredCrop:
    """Where a crop was stored."""

    key: str
    url: str


class CropStore:
    """Uploads crops (``obstore``); creates the bucket when missing (``minio``).

    ``attempts`` uploads per crop with exponential backoff from ``backoff_s``; then the crop
    goes to ``dead_letters`` (or :class:`CropStoreError` is raised when there is none).
    """

    def __init__(
        self,
        s3: S3Settings,
        *,
        dead_letters: DeadLetterFn | None = None,
        attempts: int = 5,
        backoff_s: float = 0.2,
        timeout_s: float = 10.0,
        workers: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        retries: CropRetries | None = None,
    ) -> None:
        self.bucket = s3.bucket
        self._base_url = f"{'https' if s3.secure else 'http'}://{s3.endpoint}/{s3.bucket}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            maxsize=max(workers, 1),
            retries=urllib3.Retry(total=0),  # retries are ours, with backoff and a dead letter
        )
        self._client = Minio(
            s3.endpoint,
            access_key=s3.access_key,
            secret_key=s3.secret_key.get_secret_value(),
            secure=s3.secure,
            region=s3.region,
            http_client=http,
        )
        scheme = "https" if s3.secure else "http"
        self._store = S3Store(
            s3.bucket,
            endpoint=f"{scheme}://{s3.endpoint}",
            access_key_id=s3.access_key,
            secret_access_key=s3.secret_key.get_secret_value(),
            region=s3.region or "us-east-1",
            virtual_hosted_style_request=False,
            client_options={
                "allow_http": not s3.secure,
                "timeout": timedelta(seconds=timeout_s),
                "connect_timeout": timedelta(seconds=timeout_s),
            },
            retry_config={"max_retries": 0},  # retries are ours, with backoff and a dead letter
        )
        self._dead_letters = dead_letters
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._bucket_ready = False
        self._retries = retries
        if retries is not None:
            retries.start(self._retry_put, self.url)

    def _retry_put(self, key: str, data: bytes, attributes: dict[str, str]) -> None:
        self.ensure_bucket()
        self.put_object(key, data, attributes)

    @property
    def client(self) -> Minio:
        """The underlying ``minio`` client (for reads in tests and tools)."""
        return self._client

    def url(self, key: str) -> str:
        """Path-style URL of ``key`` (not presigned)."""
        return f"{self._base_url}/{key}"

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (another writer creating it too is fine)."""
        if self._bucket_ready:
            return
        if not self._client.bucket_exists(self.bucket):
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    def put_object(self, key: str, data: bytes, attributes: dict[str, str]) -> None:
        """One PUT of ``data`` at ``key`` (``Content-Type`` and user metadata in ``attributes``); no retry.

        A panic of the Rust client (a ``BaseException``, which nothing else would catch) is
        raised as :class:`CropStoreError`: one bad request must not end the flow.
        """
        try:
            obstore.put(self._store, key, data, attributes=attributes)  # type: ignore[arg-type]
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            raise CropRefusedError(f"s3: the client refused to store {key}: {one_line(exc)}") from exc

    def put(self, event: PlateEvent, image: bytes, image_format: str = "jpeg") -> StoredCrop:
        """Upload ``image`` as the crop of ``event`` (overwrites: idempotent); retries, then raises."""
        key, attributes = self._object(event, image_format)
        return self._put(key, image, attributes)

    def _object(self, event: PlateEvent, image_format: str) -> tuple[str, dict[str, str]]:
        """The key and attributes (content type, user metadata) of ``event``'s crop."""
        key = crop_key(event.camera_id, event.event_id, event.first_seen, image_format)
        return key, {
            "Content-Type": _CONTENT_TYPES.get(_extension(image_format), "application/octet-stream"),
            # Other attributes are user metadata (x-amz-meta-*).
            "camera": header_value(event.camera_id),
            "site": header_value(event.site),
            "plate": header_value(event.plate),
            "event-id": event.event_id,
            "first-seen": event.first_seen.isoformat(),
        }

    def _put(self, key: str, image: bytes, attributes: dict[str, str]) -> StoredCrop:
        delay = self._backoff_s
        error: Exception | None = None
        for attempt in range(1, self._attempts + 1):
            if error is not None:
                log.debug(  # one line per crop at warning level, when it is given up (store())
                    "s3: storing %s failed (attempt %d): %s: %s; retrying in %.1f s",
                    key,
                    attempt - 1,
                    type(error).__name__,
                    one_line(error),
                    delay,
                )
                self._sleep(delay)
                delay *= 2
            try:
                self.ensure_bucket()
                self.put_object(key, image, attributes)
                return StoredCrop(key, self.url(key))
            except (ObjectStoreError, MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                error = exc
        raise CropStoreError(
            f"s3: cannot store {key} in bucket {self.bucket} after {self._attempts} attempts:"
            f" {type(error).__name__}: {one_line(error)}"
        ) from error

    def delete(self, key: str) -> None:
        """Delete ``key`` (an erased plate's crop); a failure is logged, not raised."""
        try:
            self._client.remove_object(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            log.error("s3: cannot delete %s (erased plate): %s; `alpr erase` again removes it", key, one_line(exc))

    def store(self, event: PlateEvent, image: bytes, image_format: str = "jpeg") -> PlateEvent:
        """``event`` with ``crop_key``/``crop_url`` of its uploaded crop; without them when it failed."""
        try:
            stored = self.put(event, image, image_format)
        except CropStoreError as exc:
            if self._keep_for_retry(event, image, image_format, exc):
                return event
            if self._dead_letters is None:
                raise
            log.error("%s; event %s goes on without a crop, the crop to the dead-letter topic", exc, event.event_id)
            self._dead_letters(
                DeadLetter.of(
                    "s3:crops",
                    str(exc),
                    type(exc.__cause__ or exc).__name__,
                    datetime.now(UTC),
                    key=event.event_id.encode(),
                    value=image,
                )
            )
            return event
        return replace(event, crop_key=stored.key, crop_url=stored.url)

    def _keep_for_retry(self, event: PlateEvent, image: bytes, image_format: str, exc: CropStoreError) -> bool:
        """Add the crop to the retry table; False when there is none or it cannot be written."""
        if self._retries is None or isinstance(exc, CropRefusedError):
            return False
        key, attributes = self._object(event, image_format)
        try:
            self._retries.add(key, event, image, attributes, str(exc))
        except Exception as db_exc:  # noqa: BLE001 - the dead-letter topic is the last resort
            log.error("s3: cannot keep %s for a later upload either (%s)", key, one_line(db_exc))
            return False
        log.warning("%s; event %s goes on without a crop for now (kept in crop_retries)", exc, event.event_id)
        return True

    def event_from_read(self, read: PlateRead) -> PlateEvent:
        """The new :class:`PlateEvent` of a validated read, with its best crop stored."""
        crop = read.read.best_crop
        return self.store(PlateEvent.from_read(read), crop.image, crop.image_format)

    def events_from_reads(
        self,
        reads: Sequence[PlateRead],
        *,
        provisional_crop: Callable[[PlateEvent], bool] | None = None,
    ) -> list[PlateEvent]:
        """:meth:`event_from_read` for a batch, uploading concurrently; order is kept.

        With ``provisional_crop``, the crop of a provisional read is stored only when it
        says so for the read's event (e.g. the event hits a watchlist, so its alert shows
        the image); other provisional events go on without a crop. Their final read (same
        event id, same key) stores the crop, and the database keeps the URL from then on.
        """
        if provisional_crop is None:
            todo = list(reads)
            events: list[PlateEvent | None] = [None] * len(reads)
        else:
            todo, events = [], []
            for r in reads:
                if r.read.provisional:
                    event = PlateEvent.from_read(r)
                    if not provisional_crop(event):
                        events.append(event)
                        continue
                todo.append(r)
                events.append(None)
        if len(todo) <= 1 or self._workers <= 1:
            stored = [self.event_from_read(r) for r in todo]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="alpr-s3")
            stored = list(self._pool.map(self.event_from_read, todo))
        it = iter(stored)
        return [e if e is not None else next(it) for e in events]

    def close(self) -> None:
        """Stop the upload threads and the retrier (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._retries is not None:
            self._retries.close()
            self._retries = None


def crop_presigner(s3: S3Settings, expires_s: int) -> Callable[[str], str]:
    """``key -> GET URL`` presigned for ``s3.public_endpoint`` (where people and alert receivers
    reach S3), valid ``expires_s`` seconds (signed locally, no request)."""
    from storage.links import CropLinks

    links = CropLinks(s3)
    return lambda key: links.url(key, expires_s)
