"""Camera readers on real video files: fps cap, loop, newest-frame policy, dead sources and reconnects."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.edge import CameraSettings
from edge.camera import CameraReader, CameraStatus, Frame, FrameSlot, is_live


def _write_clip(path: Path, frames: int, step: int) -> Path:
    """A 30 fps, 160x120 MJPEG clip whose frame i has brightness i * step."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), i * step, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 2 s clip whose frame i has brightness 4 i."""
    return _write_clip(tmp_path_factory.mktemp("clip") / "clip.avi", 60, 4)


def _collect(reader: CameraReader, timeout: float = 30.0) -> list[Frame]:
    frames = []
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = reader.slot.get(0.2)
        if frame is not None:
            frames.append(frame)
        elif reader.slot.closed:
            break
    reader.stop()
    reader.join(5)
    return frames


def test_file_every_frame_under_the_cap(clip: Path) -> None:
    statuses = []
    reader = CameraReader(
        CameraSettings(id="c", url=str(clip), fps_cap=10),
        on_status=lambda *a: statuses.append(a[1]),
        clock=lambda: 1000.0,
    )
    frames = _collect(reader)
    assert len(frames) == 20, "2 s at a 10 fps cap, none dropped"
    assert [f.index for f in frames] == list(range(20))
    gaps = np.diff([f.ts for f in frames])
    assert np.allclose(gaps, 0.1, atol=0.002), "frame times follow the file, not the wall clock"
    assert frames[0].ts == pytest.approx(1000.0) and frames[0].image.shape == (120, 160, 3)
    assert statuses[0] == CameraStatus.STREAMING and statuses[-1] == CameraStatus.ENDED


def test_loop_keeps_time_increasing(clip: Path) -> None:
    reader = CameraReader(CameraSettings(id="c", url=str(clip), fps_cap=30, loop=True))
    reader.start()
    frames = [reader.slot.get(5) for _ in range(150)]
    reader.stop()
    reader.join(5)
    assert all(f is not None for f in frames)
    assert np.all(np.diff([f.ts for f in frames]) > 0), "looping continues the timeline"
    assert frames[60].image.mean() < frames[59].image.mean(), "second pass starts over"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """A 0.5 s clip (15 frames)."""
    return _write_clip(tmp_path_factory.mktemp("short") / "short.avi", 15, 16)


def test_a_realtime_file_keeps_its_pace_and_ends_at_its_end(short_clip: Path) -> None:
    statuses: list[CameraStatus] = []
    reader = CameraReader(
        CameraSettings(id="c", url=str(short_clip), fps_cap=30, realtime=True),
        on_status=lambda *a: statuses.append(a[1]),
    )
    assert reader.live and reader.file
    started = time.monotonic()
    frames = _collect(reader)
    took = time.monotonic() - started
    assert reader.slot.closed and statuses[-1] == CameraStatus.ENDED, statuses
    assert CameraStatus.RECONNECTING not in statuses, "the end of a file is not a lost stream"
    assert 1 <= len(frames) <= 15
    assert took >= 14 / 30 - 0.05, f"played at its own pace (0.5 s), took {took:.2f} s"
    assert np.all(np.diff([f.ts for f in frames]) > 0)


def test_a_realtime_file_with_loop_starts_over(short_clip: Path) -> None:
    reader = CameraReader(CameraSettings(id="c", url=str(short_clip), fps_cap=30, realtime=True, loop=True))
    reader.start()
    frames = []
    while len(frames) < 20:  # more frames than one pass holds: the second pass came
        frame = reader.slot.get(5)
        assert frame is not None, "a looping realtime file keeps streaming"
        frames.append(frame)
    reader.stop()
    reader.join(5)
    assert not reader.is_alive() and reader.status == CameraStatus.STOPPED
    assert np.all(np.diff([f.ts for f in frames]) > 0), "looping continues the timeline"


def test_missing_and_corrupt_files_end_the_camera_cleanly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).bytes(5000))
    for url in (str(tmp_path / "missing.mp4"), str(junk)):
        statuses: list[CameraStatus] = []
        reader = CameraReader(CameraSettings(id="c", url=url), on_status=lambda *a, s=statuses: s.append(a[1]))
        assert _collect(reader, 10) == []
        assert statuses[-1] == CameraStatus.ENDED


def test_unreachable_stream_reconnects_with_exponential_backoff() -> None:
    """The delays the reader announces double up to the cap, and it really waits at least that long
    between attempts (lower bounds only: a loaded machine may wait longer, never shorter)."""
    attempts: list[float] = []
    enough = threading.Event()

    def opener(settings):
        attempts.append(time.monotonic())
        if len(attempts) >= 5:
            enough.set()
        return cv2.VideoCapture(), "cpu"  # never opens, like an unreachable RTSP server

    statuses = []
    cam = CameraSettings(id="c", url="rtsp://127.0.0.1:9/x", reconnect_min_s=0.1, reconnect_max_s=0.4)
    reader = CameraReader(cam, opener=opener, on_status=lambda *a: statuses.append((a[1], a[2])))
    reader.start()
    assert enough.wait(30), f"only {len(attempts)} attempts"
    reader.stop()
    reader.join(5)
    assert not reader.is_alive()
    retries = [detail for status, detail in statuses if status == CameraStatus.RECONNECTING]
    assert retries[:4] == [f"cannot open, retry in {d}s" for d in ("0.1", "0.2", "0.4", "0.4")]
    gaps = np.diff(attempts[:5])
    assert all(gap >= delay * 0.95 for gap, delay in zip(gaps, (0.1, 0.2, 0.4, 0.4), strict=True)), gaps
    assert statuses[-1][0] == CameraStatus.STOPPED
    assert reader.slot.closed


def test_latest_only_slot_drops_old_frames_and_counts_them() -> None:
    slot = FrameSlot(latest_only=True)
    img = np.zeros((2, 2, 3), np.uint8)
    dropped = [slot.put(Frame("c", i, float(i), img)) for i in range(5)]
    assert dropped == [False, True, True, True, True]
    assert slot.get(0).index == 4 and slot.get(0) is None


def test_blocking_slot_waits_for_the_consumer() -> None:
    slot = FrameSlot(latest_only=False)
    img = np.zeros((2, 2, 3), np.uint8)
    got = []

    def consume():
        for _ in range(3):
            time.sleep(0.05)
            got.append(slot.get(1).index)

    t = threading.Thread(target=consume)
    t.start()
    assert [slot.put(Frame("c", i, float(i), img)) for i in range(3)] == [False, False, False]
    t.join(5)
    assert got == [0, 1, 2]


@pytest.mark.parametrize(
    ("url", "live"),
    [
        ("rtsp://h/s", True),
        ("/dev/video0", True),
        ("0", True),
        ("samples/a.mp4", False),
        ("/data/x.mkv", False),
    ],
)
def test_is_live(url: str, live: bool) -> None:
    assert is_live(url) is live
