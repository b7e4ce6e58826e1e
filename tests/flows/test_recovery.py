"""kill -9 of the flow mid-stream, then a restart with bytewax recovery: every event stored once,
every alert delivered once (the real flow process, broker, registry, S3, PostgreSQL, receiver)."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from db.watchlists import add_entry, create_watchlist
from operators.records import ALPR_NAMESPACE
from tests.flows import flow_env
from tests.flows.crops import labelled_crops
from tests.flows.flow_env import count_events, start_flow
from tests.flows.receiver import AlertReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def marked_delivered(url: str, cams: list[str], watchlist_id: int) -> set[str]:
    """Alert ids whose delivery is marked delivered in the database now."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.alert_id::text FROM alerts a JOIN alert_deliveries d USING (alert_id) "
            "WHERE a.camera_id = ANY(%s) AND a.watchlist_id = %s AND d.status = 'delivered'",
            (cams, watchlist_id),
        ).fetchall()
    return {r[0] for r in rows}


def test_kill_9_mid_stream_then_restart_stores_every_event_once_and_alerts_once(settings, tmp_path):
    url = settings.database.url.get_secret_value()
    with AlertReceiver(flow_env.SECRET) as receiver:
        s = flow_env.flow_settings(settings, f"http://127.0.0.1:{receiver.port}", partitions=2)
        s = s.model_copy(
            update={
                "flow": s.flow.model_copy(
                    update={
                        "alerts": s.flow.alerts.model_copy(
                            update={"channels": s.flow.alerts.channels[:1]}
                        ),  # webhook only
                        "input": s.flow.input.model_copy(update={"stop_at_end": False}),  # run 1 tails the topic
                        "track_idle_s": 0.5,
                    }
                )
            }
        )
        plates = [c.plate for c in labelled_crops()]
        tag = secrets.token_hex(3)
        cams = [f"cam-{tag}-{i}" for i in range(3)]
        wanted = plates[:3]
        with psycopg.connect(url, autocommit=True) as conn:
            wl = create_watchlist(conn, f"recovery-{tag}", channels=flow_env.channel_names(s))
            for p in wanted:
                add_entry(conn, wl, p)

        t0 = flow_env.recent()
        enc = flow_env.crop_encoder(s)
        tracks = []  # one vehicle pass per (plate, camera), in event-time order
        for i, plate_index in enumerate(range(len(plates))):
            for j, cam in enumerate(cams):
                start = t0 + timedelta(seconds=10 * i + j)
                crops = flow_env.track_crops(plate_index, cam, f"run-{i}", start, n=2)
                tracks.append([(cam, enc.encode(c.to_avro())) for c in crops])
        expected = len(tracks)

        config = flow_env.write_config(s, tmp_path / "flow.yaml")
        recovery = tmp_path / "recovery"
        recovery.mkdir()
        subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT)
        log = tmp_path / "flow.log"

        # Live traffic: once the flow stored its first pass, a pass every 0.25 s up to half of
        # them; kill -9 once a third is stored. The second half is published while the flow is
        # down, so a slow (loaded) machine cannot store everything before the kill.
        half = expected // 2

        def traffic() -> None:
            flow_env.produce(s, tracks[0])
            deadline = time.monotonic() + 120
            while count_events(url, cams) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            for t in tracks[1:half]:
                flow_env.produce(s, t)
                time.sleep(0.25)

        producer = threading.Thread(target=traffic)
        first = start_flow(config, recovery, log)
        producer.start()
        try:
            deadline = time.monotonic() + 120
            while count_events(url, cams) < expected // 3:
                assert first.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "flow made no progress:\n" + log.read_text()
                time.sleep(0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            producer.join(60)
        stored_at_kill = count_events(url, cams)
        delivered_at_kill = marked_delivered(url, cams, wl)  # the dead process marks nothing more
        assert stored_at_kill < expected, "the flow finished before it was killed: nothing was tested"
        for t in tracks[half:]:
            flow_env.produce(s, t)

        restart_at = time.time()  # what arrives before this came from the killed process
        second = start_flow(config, recovery, log, ALPR_FLOW__INPUT__STOP_AT_END="true")
        try:
            assert second.wait(180) == 0, log.read_text()
        finally:
            if second.poll() is None:
                second.kill()

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT event_id::text, camera_id, plate, sightings, provisional FROM plate_events "
                "WHERE camera_id = ANY(%s)",
                (cams,),
            ).fetchall()
            alerts = conn.execute(
                "SELECT a.alert_id::text, d.status FROM alerts a JOIN alert_deliveries d USING (alert_id) "
                "WHERE a.camera_id = ANY(%s) AND a.watchlist_id = %s",  # other tests' lists may match too
                (cams, wl),
            ).fetchall()
        assert len(rows) == expected
        assert sorted((r[1], r[2]) for r in rows) == sorted((c, p) for c in cams for p in plates)
        assert all(r[3] == 1 and r[4] is False for r in rows), rows  # replays did not count twice

        entries = {}
        with psycopg.connect(url) as conn:
            for entry_id, pattern in conn.execute(
                "SELECT id, pattern FROM watchlist_entries WHERE watchlist_id = %s", (wl,)
            ):
                entries[pattern] = entry_id
        want = {
            str(uuid.uuid5(ALPR_NAMESPACE, f"watchlist-alert\x1f{r[0]}\x1f{entries[r[2]]}"))
            for r in rows
            if r[2] in wanted
        }
        assert len(want) == len(wanted) * len(cams)
        # Both flow processes have ended (the second closed its dispatcher): nothing more can arrive.
        assert receiver.wait_for(len(want), timeout=30)
        delivered = receiver.alert_ids("/webhook")
        mine = [a for a in delivered if a in want]
        # None lost; none sent twice, except one whose 200 came back before the kill but whose
        # 'delivered' mark was not committed yet: that one must be resent (or it could be lost).
        # Receivers deduplicate those by the X-ALPR-Alert-Id header (see docs/flow.md).
        assert set(mine) == want, "an alert was lost"
        for alert_id, n in Counter(mine).items():
            if n > 1:
                first_at = min(d.received_at for d in receiver.deliveries if d.alert_id == alert_id)
                assert n == 2, f"alert {alert_id} sent {n} times"
                assert alert_id not in delivered_at_kill, f"alert {alert_id} was marked delivered, then resent"
                assert first_at < restart_at, f"alert {alert_id} was sent twice by the restarted flow"
        assert {a for a, status in alerts} == want and {status for _, status in alerts} == {"delivered"}
