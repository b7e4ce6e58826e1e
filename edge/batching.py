"""Micro-batching of the shared detector across a node's camera threads.

Each camera worker calls :meth:`BatchingDetector.detect` as it would the plain detector; a
single batcher thread gathers the frames that arrive within ``max_wait_s`` (up to ``max_batch``)
and runs them through ONE ``detect_batch`` inference call. On a GPU this is what turns N
cameras into one batched forward pass; on a CPU the gain is small (batching is off by default:
``edge.detector.batch_max = 1``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

import numpy as np

from edge.detect import Detections, DetectorError

log = logging.getLogger(__name__)


class BatchDetector(Protocol):
    """A detector that can also run several frames in one call."""

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...

    def detect_batch(self, frames_bgr: Sequence[np.ndarray]) -> list[Detections]: ...


_Item = tuple[np.ndarray, "Future[Detections]"]


class BatchingDetector:
    """Thread-safe :class:`~edge.detect.Detector` that batches concurrent calls into ``detect_batch``."""

    def __init__(self, inner: BatchDetector, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(f"BatchingDetector: need max_batch >= 1, max_wait_s >= 0; got {max_batch}, {max_wait_s}")
        self.inner = inner
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self.batches = 0
        self.frames = 0
        self._thread = threading.Thread(target=self._run, name="detector-batcher", daemon=True)
        self._thread.start()

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Detect in one frame; blocks until its batch has run. A bad frame fails only its caller."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.size == 0:
            raise DetectorError(f"batching detector: expected a (H, W, 3) frame, got shape {frame_bgr.shape}")
        if not self._thread.is_alive():
            raise DetectorError("batching detector is closed")
        future: Future[Detections] = Future()
        self._queue.put((frame_bgr, future))
        return future.result()

    def close(self) -> None:
        """Run what is queued, then stop the batcher thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._max_wait_s
            while len(batch) < self._max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._detect(batch)

    def _detect(self, batch: list[_Item]) -> None:
        self.batches += 1
        self.frames += len(batch)
        try:
            results = self.inner.detect_batch([frame for frame, _ in batch])
        except Exception:  # noqa: BLE001 - fall back to one call per frame so one failure stays local
            log.warning("batched detection of %d frames failed; retrying frame by frame", len(batch), exc_info=True)
            for frame, future in batch:
                try:
                    future.set_result(self.inner.detect(frame))
                except Exception as exc:  # noqa: BLE001 - handed to the camera that sent the frame
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
