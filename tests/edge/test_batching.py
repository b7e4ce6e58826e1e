"""The batching detector: concurrent camera calls share inference calls and get their own results."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.edge import DetectorSettings
from edge.batching import BatchingDetector
from edge.detect import Detections, DetectorError, OnnxDetector, load_detector


class CountingDetector:
    """The real ONNX detector, recording the size of each batch it is given."""

    def __init__(self, inner: OnnxDetector) -> None:
        self.inner = inner
        self.sizes: list[int] = []
        self.fail_batches = False

    def detect(self, frame: np.ndarray) -> Detections:
        return self.inner.detect(frame)

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        self.sizes.append(len(frames))
        if self.fail_batches:
            raise RuntimeError("batch refused")
        return self.inner.detect_batch(frames)


@pytest.fixture(scope="module")
def onnx() -> OnnxDetector:
    detector = load_detector(DetectorSettings(threads=1, providers=("CPUExecutionProvider",)))
    assert isinstance(detector, OnnxDetector)
    return detector


@pytest.fixture(scope="module")
def frames(sample_clip: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(sample_clip))
    out = []
    for index in (90, 95, 0):  # two with the plate, one without
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok
        out.append(frame)
    cap.release()
    return out


def _call_concurrently(detector: BatchingDetector, frames: list[np.ndarray]) -> list[object]:
    results: list[object] = [None] * len(frames)
    barrier = threading.Barrier(len(frames))

    def camera(i: int) -> None:
        barrier.wait()
        try:
            results[i] = detector.detect(frames[i])
        except Exception as exc:  # noqa: BLE001 - the test inspects what each camera got
            results[i] = exc

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_cameras_share_one_inference_call(onnx, frames) -> None:
    counting = CountingDetector(onnx)
    batcher = BatchingDetector(counting, max_batch=3, max_wait_s=0.5)
    try:
        results = _call_concurrently(batcher, frames)
    finally:
        batcher.close()
    assert max(counting.sizes) >= 2  # frames of different cameras went through one call
    assert sum(counting.sizes) == 3 == batcher.frames
    for frame, got in zip(frames, results, strict=True):
        want = onnx.detect(frame)
        assert isinstance(got, Detections) and len(got) == len(want)
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=1.0)
    assert len(results[0]) >= 1 and len(results[2]) == 0


def test_a_bad_frame_fails_only_its_camera(onnx, frames) -> None:
    batcher = BatchingDetector(CountingDetector(onnx), max_batch=4, max_wait_s=0.2)
    try:
        results = _call_concurrently(batcher, [frames[0], np.zeros((4, 4), np.uint8), frames[1]])
    finally:
        batcher.close()
    assert isinstance(results[1], DetectorError)
    assert isinstance(results[0], Detections) and len(results[0]) >= 1
    assert isinstance(results[2], Detections) and len(results[2]) >= 1


def test_a_failed_batch_falls_back_to_one_call_per_frame(onnx, frames) -> None:
    counting = CountingDetector(onnx)
    counting.fail_batches = True
    batcher = BatchingDetector(counting, max_batch=3, max_wait_s=0.2)
    try:
        results = _call_concurrently(batcher, frames)
    finally:
        batcher.close()
    assert all(isinstance(r, Detections) for r in results)
    assert len(results[0]) >= 1


def test_closed_batcher_refuses_frames(onnx, frames) -> None:
    batcher = BatchingDetector(CountingDetector(onnx), max_batch=2, max_wait_s=0.0)
    batcher.close()
    with pytest.raises(DetectorError, match="closed"):
        batcher.detect(frames[0])
