"""An erased plate stays erased while the flow runs: its dedup state forgets the plate.

Defect 7 of issue 12: an erased plate seen again within the dedup window brought the erased
event back (same id, old first_seen, the erased sightings added), because the running flow's
dedup state still held it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from api.privacy import erase_plate
from api.storage import CropImages
from bench.chaos import pass_messages
from tests.flows import flow_env

pytestmark = pytest.mark.integration


def _events(url: str, cam: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT event_id::text, first_seen, sightings FROM plate_events WHERE camera_id = %s ORDER BY first_seen",
            (cam,),
        ).fetchall()


def _wait(what, check, proc, log, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{what}:\n" + log.read_text()[-4000:]
        time.sleep(0.1)


def test_an_erased_plate_seen_again_is_a_new_event_not_the_erased_one(settings, tmp_path):
    s = flow_env.flow_settings(settings, partitions=1, track_idle_s=0.5, input={"stop_at_end": False})
    s = s.model_copy(update={"flow": s.flow.model_copy(update={"erasures_poll_s": 0.5})})
    url = s.database.url.get_secret_value()
    plate = "ERA5123"
    cam = f"cam-erase-{time.time_ns() % 10**8}"
    enc = flow_env.crop_encoder(s)
    log = tmp_path / "flow.log"
    # The production flow with the bench's text reader for OCR (the crops carry their plate text).
    config = flow_env.write_config(s, tmp_path / "flow.yaml")
    flow = flow_env.start_flow(config, None, log, flow="bench.chaos:chaos_flow()")
    try:
        t0 = datetime.now(UTC) - timedelta(seconds=30)
        flow_env.produce(s, pass_messages(enc.encode, cam, "pass-1", plate, t0))
        [(erased_id, _, _)] = _wait("first pass stored", lambda: _events(url, cam), flow, log)

        known = log.read_text().count("erased plate(s) known")  # other tests' erasures, loaded at start
        with psycopg.connect(url, autocommit=True) as conn:
            report = erase_plate(conn, CropImages(s.s3), plate, actor="test")
        assert report.events == 1 and _events(url, cam) == []
        learnt = lambda: log.read_text().count("erased plate(s) known") > known  # noqa: E731
        _wait("the flow learnt of the erasure", learnt, flow, log)

        again = datetime.now(UTC)  # the same car, seen again after the erasure, within the window
        flow_env.produce(s, pass_messages(enc.encode, cam, "pass-2", plate, again))
        [(event_id, first_seen, sightings)] = _wait("second pass stored", lambda: _events(url, cam), flow, log)
        assert event_id != erased_id and sightings == 1 and first_seen >= again - timedelta(seconds=1)
    finally:
        flow.kill()
        flow.wait(10)


def test_shared_watches_stop_when_closed():
    """A shared watch polls in a daemon thread for the process's life; close_shared stops it (the
    tests do so after each module: tests/conftest.py), and the next shared_watch starts a new one."""
    from flows.erasures import close_shared, shared_watch

    close_shared()
    url = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens: each poll fails and is logged
    watch = shared_watch(url, 0.05, None)
    thread = watch._thread
    assert thread is not None and thread.is_alive() and shared_watch(url, 0.05, None) is watch
    assert close_shared() == 1
    assert not thread.is_alive()
    again = shared_watch(url, 0.05, None)
    assert again is not watch and again._thread is not None and again._thread.is_alive()
    assert close_shared() == 1
