"""The whole edge on the sample clip against the real broker and registry, and `alpr edge` as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from config.edge import CameraSettings, SpoolSettings
from config.settings import Settings
from edge.detect import DetectorError, load_detector
from edge.node import EdgeNode
from tests.edge.conftest import read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


class FailsOnce:
    """A Detector whose ``call``-th call raises, like a corrupt frame would."""

    def __init__(self, inner, call: int) -> None:
        self.inner, self.call, self.calls = inner, call, 0

    def detect(self, frame_bgr):
        self.calls += 1
        if self.calls == self.call:
            raise DetectorError("corrupt frame (test)")
        return self.inner.detect(frame_bgr)


def _read(settings: Settings, topic: str, min_count: int) -> list[dict]:
    return read_topic(settings.kafka.bootstrap_servers, settings.kafka.schema_registry_url, topic, min_count)


def _edge_settings(stack: Settings, tmp_path: Path, camera: CameraSettings) -> Settings:
    suffix = str(time.time_ns())
    topics = stack.kafka.topics.model_copy(
        update={"crops": f"edge-crops-{suffix}", "detections": f"edge-detections-{suffix}"}
    )
    kafka = stack.kafka.model_copy(update={"topics": topics})
    edge = stack.edge.model_copy(update={"cameras": (camera,), "spool": SpoolSettings(dir=tmp_path / "spool")})
    return stack.model_copy(update={"kafka": kafka, "edge": edge, "site": "test-site"})


def test_sample_clip_gives_one_track_and_decodable_crops(
    stack_settings: Settings, sample_clip: Path, tmp_path: Path
) -> None:
    camera = CameraSettings(id="sample-1", url=str(sample_clip), fps_cap=30)
    settings = _edge_settings(stack_settings, tmp_path, camera)
    node = EdgeNode(settings, detector=FailsOnce(load_detector(settings.edge.detector), call=10))
    node.start()
    node.wait()
    assert node.close(30), "everything delivered"
    (view,) = node.views()
    read = node.metrics.registry.get_sample_value("alpr_edge_frames_read_total", {"camera": "sample-1"})
    errors = node.metrics.registry.get_sample_value("alpr_edge_pipeline_errors_total", {"camera": "sample-1"})
    assert read >= 225 and view.dropped == 0, f"every frame of the 30 fps clip read: {view}"
    assert errors == 1 and view.frames == read - 1, "the failing frame is counted and skipped, the rest go on"

    events = _read(settings, settings.kafka.topics.detections, 2)
    assert [e["kind"] for e in events] == ["START", "END"], f"one track for the one car: {events}"
    track_id = events[0]["track_id"]
    assert events[1]["track_id"] == track_id and events[1]["frames"] >= 20

    crops = _read(settings, settings.kafka.topics.crops, 2)
    assert len(crops) >= 2 and len(crops) == events[1]["crops_published"]
    for crop in crops:
        assert crop["track_id"] == track_id and crop["camera_id"] == "sample-1" and crop["site"] == "test-site"
        assert crop["crop_id"] == f"sample-1:{track_id}:{crop['frame_index']}"
        assert (crop["frame_width"], crop["frame_height"]) == (1920, 1080)
        image = cv2.imdecode(np.frombuffer(crop["image"], np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[1] >= crop["bbox"]["w"]
        assert 0 < crop["quality"] <= 1 and crop["frame_ts"].tzinfo is not None


def test_two_cameras_share_batched_inference(stack_settings: Settings, sample_clip: Path, tmp_path: Path) -> None:
    cams = tuple(CameraSettings(id=f"cam-{i}", url=str(sample_clip), fps_cap=30) for i in range(2))
    settings = _edge_settings(stack_settings, tmp_path, cams[0])
    detector = settings.edge.detector.model_copy(update={"batch_max": 2, "batch_wait_ms": 50.0})
    edge = settings.edge.model_copy(update={"cameras": cams, "detector": detector})
    settings = settings.model_copy(update={"edge": edge})
    node = EdgeNode(settings)
    batcher = node.detector
    node.start()
    node.wait()
    assert node.close(30)
    assert batcher.frames >= 2 * 225 and batcher.batches < batcher.frames, "frames of both cameras shared calls"
    events = _read(settings, settings.kafka.topics.detections, 4)
    assert sorted((e["camera_id"], e["kind"]) for e in events) == [
        ("cam-0", "END"),
        ("cam-0", "START"),
        ("cam-1", "END"),
        ("cam-1", "START"),
    ], "one track per camera, as without batching"


def test_cli_runs_and_stops_cleanly_on_sigterm(stack_settings: Settings, sample_clip: Path, tmp_path: Path) -> None:
    """`alpr edge --config` with a looping camera and a dead one: status records in its (non-terminal)
    log every edge.status_log_s, SIGTERM flushes, exit 0."""
    config = {
        "site": "cli-site",
        "kafka": {
            "bootstrap_servers": stack_settings.kafka.bootstrap_servers,
            "schema_registry_url": stack_settings.kafka.schema_registry_url,
        },
        "metrics": {"enabled": False},
        "edge": {
            "status_interval_s": 0.5,
            "status_log_s": 0.5,  # stderr is a pipe: status records in the log, not a live line
            "spool": {"dir": str(tmp_path / "spool")},
            "detector": {"input_size": 320},
            "cameras": [
                {"id": "loop", "url": str(sample_clip), "loop": True, "fps_cap": 5, "realtime": True},
                {"id": "dead", "url": "rtsp://127.0.0.1:9/none", "reconnect_min_s": 0.2, "open_timeout_s": 1},
            ],
        },
    }
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpr.cli", "edge", "--config", str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "loop streaming" in line and "dead reconnecting" in line:
                break
        assert proc.poll() is None, f"edge exited early: {''.join(lines)[-2000:]}"
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
        err = "".join(lines) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "loop streaming fps=" in err and "dead reconnecting" in err, err[-2000:]
    assert "\r" not in err and "INFO edge.status: loop streaming" in err, err[-2000:]  # records, no live line
    assert "edge: done" in err and "spool_left=0" in err, err[-2000:]
