"""The flow split over two bytewax processes (``-i/-a``) gives the same events as one process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.flows import flow_env
from tests.flows.crops import labelled_crops

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_store_each_pass_once_and_merge_repeats(settings, tmp_path):
    s = flow_env.flow_settings(settings, partitions=2)
    plates = [c.plate for c in labelled_crops()][:4]
    tag = secrets.token_hex(3)
    cams = [f"cam-{tag}-{i}" for i in range(4)]
    t0 = flow_env.recent()
    enc = flow_env.crop_encoder(s)
    values = []
    for i, cam in enumerate(cams):
        # each camera sees its plate twice, 60 s apart: the second pass merges into the first event
        for rep in range(2):
            for c in flow_env.track_crops(i, cam, f"run-{rep}", t0 + timedelta(seconds=60 * rep), n=2):
                values.append((cam, enc.encode(c.to_avro())))
    flow_env.produce(s, values)
    config = flow_env.write_config(s, tmp_path / "flow.yaml")

    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    env = {**os.environ, "ALPR_CONFIG": str(config)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "flows.plates", "-i", str(i), "-a", addresses],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / f"p{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        for i, p in enumerate(procs):
            assert p.wait(180) == 0, (tmp_path / f"p{i}.log").read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()

    with psycopg.connect(settings.database.url.get_secret_value()) as conn:
        rows = conn.execute(
            "SELECT camera_id, plate, sightings FROM plate_events WHERE camera_id = ANY(%s)", (cams,)
        ).fetchall()
    assert sorted(rows) == sorted((cam, plates[i], 2) for i, cam in enumerate(cams))
