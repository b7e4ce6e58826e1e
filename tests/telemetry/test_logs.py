"""Every process logs time, level, logger and message, as text or as JSON lines."""

from __future__ import annotations

import io
import json
import logging
import re
import warnings

import pytest

from config.settings import LogSettings
from telemetry import logs


@pytest.fixture
def stream():
    out = io.StringIO()
    yield out
    logs.set_verbosity(0)
    logs.configure(stream=io.StringIO())  # leave a quiet handler, not one writing to a closed buffer
    logging.getLogger().setLevel(logging.WARNING)


def test_text_lines_have_time_level_logger_and_message(stream) -> None:
    logs.configure(LogSettings(level="INFO", format="text"), stream=stream)
    logging.getLogger("edge.camera").info("camera %s: streaming", "gate-1")
    logging.getLogger("edge.camera").debug("not shown at INFO")
    line = stream.getvalue().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO edge\.camera: camera gate-1: streaming", line)


def test_json_lines_carry_extra_fields_and_exceptions(stream) -> None:
    logs.configure(LogSettings(level="DEBUG", format="json"), stream=stream)
    logging.getLogger("api.access").info("GET /ready 200", extra={"status": 200, "path": "/ready"})
    try:
        raise ValueError("bad frame")
    except ValueError:
        logging.getLogger("edge.node").exception("frame %d failed", 7)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["logger"] == "api.access" and first["level"] == "INFO" and first["message"] == "GET /ready 200"
    assert first["status"] == 200 and first["path"] == "/ready" and first["time"].endswith("Z")
    assert second["level"] == "ERROR" and "ValueError: bad frame" in second["exception"]


def test_warnings_and_verbosity(stream) -> None:
    logs.set_verbosity(2)  # alpr -vv
    logging.captureWarnings(False)  # pytest swaps warnings.showwarning per test: capture afresh
    logs.configure(LogSettings(level="WARNING", format="text"), stream=stream)
    logging.getLogger("flows.source").debug("shown with -vv")
    warnings.warn("a library warning", UserWarning, stacklevel=1)
    text = stream.getvalue()
    assert "DEBUG flows.source: shown with -vv" in text
    assert "WARNING py.warnings:" in text and "a library warning" in text


def test_reconfiguring_replaces_only_its_own_handler(stream) -> None:
    other = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(other)
    try:
        logs.configure(LogSettings(format="text"), stream=stream)
        logs.configure(LogSettings(format="json"), stream=stream)
        ours = [h for h in root.handlers if isinstance(h, logs._Handler)]  # noqa: SLF001
        assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
        assert other in root.handlers
    finally:
        root.removeHandler(other)
