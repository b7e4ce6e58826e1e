"""Retention on a schedule inside `alpr api serve` (a daemon thread; errors are logged, not fatal)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from api.privacy import apply_retention
from api.storage import CropImages
from config.settings import Settings
from db.connect import connect

log = logging.getLogger(__name__)


class RetentionLoop:
    """Applies ``settings.api.retention`` every ``interval_s`` seconds until :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alpr-api-retention", daemon=True)

    def start(self) -> RetentionLoop:
        """Start the thread (does nothing when the interval is 0)."""
        if self.settings.api.retention.interval_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end and wait a little for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def run_once(self) -> None:
        """One retention run (logged)."""
        with connect(self.settings.database.url.get_secret_value(), autocommit=True) as conn:
            report = apply_retention(
                conn,
                CropImages(self.settings.s3),
                self.settings.api.retention,
                reads_days=self.settings.database.reads_retention_days,
                now=datetime.now(UTC),
                privacy=self.settings.api.privacy,
            )
        log.info("retention applied: %s", report)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.api.retention.interval_s):
            try:
                self.run_once()
            except Exception:  # keep serving; the next run retries
                log.exception("retention run failed")
