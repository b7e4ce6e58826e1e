"""Logging of every process: one line per record with time, level, logger and message.

``log.format: text`` writes ``2026-01-31T12:00:00.123Z INFO flows.source: message``;
``log.format: json`` writes one JSON object per line (``time``, ``level``, ``logger``,
``message``, ``exception`` when there is one, and the record's extra fields, e.g. the API
access log's ``method``, ``route``, ``status``, ``duration_ms``) for log shippers (Loki,
Elasticsearch, CloudWatch). Python warnings are routed to the ``py.warnings`` logger, so they
carry a time and a level too. The level comes from ``log.level``; ``alpr -v``/``-vv`` lowers it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from config.settings import LogSettings

__all__ = ["JsonFormatter", "TextFormatter", "configure", "set_verbosity"]

#: Attributes every LogRecord has; anything else on a record is an ``extra`` field.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's message with terminal colours
}
#: Libraries that log every HTTP request at INFO: kept at WARNING unless the level is DEBUG.
_CHATTY = ("httpx", "httpx2", "httpcore", "urllib3", "minio")

_verbosity = 0


def _timestamp(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<ISO 8601 UTC time> <LEVEL> <logger>: <message>`` (+ the traceback, indented by Python)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - stdlib name
        return _timestamp(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, exception, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure` installs (and replaces on the next call)."""


def set_verbosity(count: int) -> None:
    """``alpr -v`` (1: INFO) / ``-vv`` (2: DEBUG): lowers the level of later :func:`configure` calls."""
    global _verbosity
    _verbosity = max(0, count)


def _level(name: str) -> int:
    level = logging.getLevelName(name)
    if _verbosity >= 2:
        return min(level, logging.DEBUG)
    if _verbosity == 1:
        return min(level, logging.INFO)
    return level


def configure(settings: LogSettings | None = None, *, stream: IO[str] | None = None) -> None:
    """Route every record of the process through one handler with the format of ``settings``.

    Without settings (command-line tools before their settings are read): text at WARNING.
    Calling it again replaces the handler it installed; handlers of others (pytest) stay.
    """
    level = _level(settings.level if settings else "WARNING")
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings and settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
