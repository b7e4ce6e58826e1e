"""Crops whose upload failed, kept in PostgreSQL and uploaded again when object storage is back.

:class:`~flows.sinks.s3.CropStore` retries an upload a few times (seconds); past that the event
goes on without its crop, and the crop is added here (table ``crop_retries``, migration 0005)
instead of living only in the dead-letter topic. A daemon thread of the flow process
(:meth:`CropRetries.start`) takes due rows every ``poll_s`` seconds (``FOR UPDATE SKIP LOCKED``:
several flow processes share the table), uploads each once, and on success sets ``crop_key`` and
``crop_url`` on the event's row (only where it has none) and deletes the row. A failed attempt
waits twice as long as the previous one (at most a minute). The row of an event that never
appears (its pass merged into another event by dedup) is dropped ``link_grace_s`` after the
upload. Only when PostgreSQL is down too does the crop go to the dead-letter topic.

Plate events and alerts already sent to Kafka or to webhooks during the outage carry no crop
URL; the database row, the API and the search get it once the upload succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from prometheus_client import Counter
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from operators.records import PlateEvent
from operators.text import one_line

log = logging.getLogger(__name__)

CROP_RETRIES = Counter("alpr_flow_crop_retries", "Crops kept for a later upload, and what became of them.", ["result"])

Put = Callable[[str, bytes, dict[str, str]], None]

_ADD = """
INSERT INTO crop_retries (crop_key, event_id, camera_id, plate, first_seen, attributes, image, last_error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (crop_key) DO UPDATE SET image = EXCLUDED.image, attributes = EXCLUDED.attributes,
    last_error = EXCLUDED.last_error, uploaded_at = NULL, next_at = now()
"""
_DUE = """
SELECT crop_key, event_id, first_seen, attributes, image, attempts, uploaded_at,
       created_at < now() - make_interval(secs => %s) AS stale
FROM crop_retries WHERE next_at <= now() ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED
"""
_LINK = """
UPDATE plate_events SET crop_key = %(key)s, crop_url = %(url)s, updated_at = now()
WHERE event_id = %(id)s AND first_seen = %(first)s AND crop_key IS NULL
"""
_HAS_CROP = "SELECT 1 FROM plate_events WHERE event_id = %s AND first_seen = %s AND crop_key IS NOT NULL"
_FAILED = """
UPDATE crop_retries SET attempts = attempts + 1, last_error = %s,
    next_at = now() + make_interval(secs => least(60, 2 ^ least(attempts, 6)))
WHERE crop_key = %s
"""
_UPLOADED = "UPDATE crop_retries SET uploaded_at = now(), next_at = now() + interval '5 seconds' WHERE crop_key = %s"
_DONE = "DELETE FROM crop_retries WHERE crop_key = %s"


class CropRetries:
    """The ``crop_retries`` table: :meth:`add` a crop, :meth:`run_once` / :meth:`start` retry them."""

    def __init__(
        self,
        url: str,
        *,
        poll_s: float = 10.0,
        link_grace_s: float = 600.0,
        batch: int = 50,
        name: str = "alpr-crop-retries",
    ) -> None:
        self.poll_s = poll_s
        self.link_grace_s = link_grace_s
        self.batch = batch
        self.name = name
        self._pool = ConnectionPool(
            url,
            min_size=0,
            max_size=2,
            name=name,
            open=False,
            timeout=5.0,
            reconnect_timeout=5.0,
            kwargs={"application_name": name, "connect_timeout": 5, "autocommit": True},
        )
        self._pool.open(wait=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, key: str, event: PlateEvent, image: bytes, attributes: dict[str, str], error: str) -> None:
        """Keep a crop for a later upload; raises ``psycopg.Error``/``PoolTimeout`` when it cannot."""
        with self._pool.connection() as conn:
            conn.execute(
                _ADD,
                (key, event.event_id, event.camera_id, event.plate, event.first_seen, Jsonb(attributes), image, error),
            )
        CROP_RETRIES.labels("queued").inc()

    def run_once(self, put: Put, url_of: Callable[[str], str]) -> int:
        """One round: upload the due crops, link them to their events; returns the crops linked."""
        linked = 0
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(_DUE, (self.link_grace_s, self.batch)).fetchall()
            for key, event_id, first_seen, attributes, image, attempts, uploaded_at, stale in rows:
                if uploaded_at is None:
                    try:
                        put(key, bytes(image), dict(attributes))
                    except Exception as exc:  # noqa: BLE001 - any failure: try later
                        conn.execute(_FAILED, (f"{type(exc).__name__}: {one_line(exc)}", key))
                        CROP_RETRIES.labels("failed").inc()
                        if attempts == 0 or attempts % 10 == 0:
                            log.warning("%s: %s still cannot be stored: %s", self.name, key, one_line(exc))
                        break  # the store is still down: the other rows wait for the next round
                    CROP_RETRIES.labels("uploaded").inc()
                if self._link(conn, key, url_of(key), event_id, first_seen):
                    linked += 1
                    CROP_RETRIES.labels("linked").inc()
                    conn.execute(_DONE, (key,))
                elif stale:
                    CROP_RETRIES.labels("unlinked").inc()
                    conn.execute(_DONE, (key,))  # its pass was merged into another event
                else:
                    conn.execute(_UPLOADED, (key,))
        if linked:
            log.info("%s: %d crop(s) stored after an outage and linked to their events", self.name, linked)
        return linked

    @staticmethod
    def _link(conn: psycopg.Connection[Any], key: str, url: str, event_id: Any, first_seen: datetime) -> bool:
        changed = conn.execute(_LINK, {"key": key, "url": url, "id": event_id, "first": first_seen}).rowcount
        return bool(changed) or conn.execute(_HAS_CROP, (event_id, first_seen)).fetchone() is not None

    # --- the retrier thread -------------------------------------------------------------
    def start(self, put: Put, url_of: Callable[[str], str]) -> CropRetries:
        """Retry in a daemon thread every ``poll_s`` seconds (once per instance)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, args=(put, url_of), name=self.name, daemon=True)
                self._thread.start()
        return self

    def _loop(self, put: Put, url_of: Callable[[str], str]) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                while self.run_once(put, url_of) >= self.batch:
                    pass  # a backlog: go on at once
            except (psycopg.Error, PoolTimeout) as exc:
                log.warning("%s: cannot read the retry table (will try again): %s", self.name, one_line(exc))
            except Exception:  # the retrier must outlive any surprise
                log.exception("%s: retry round failed", self.name)

    def close(self) -> None:
        """Stop the thread and close the pool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll_s + 5)
        self._pool.close()
