"""Camera readers: one thread per camera turning a file, RTSP stream or V4L2 device into :class:`Frame`s.

A reader opens its source (hardware decode first when asked, falling back to CPU), applies the
per-camera fps cap, and hands frames to a :class:`FrameSlot`. Live sources keep only the newest
frame (older unprocessed frames are dropped and counted); files hand over every frame below the
cap, waiting for the consumer, so a clip gives the same result on a slow and a fast box. A file
with ``realtime: true`` is played like a live camera (its own pace, newest frame wins) and still
ends at its end, or starts over with ``loop: true``. A stream or device that fails is reopened
with exponential backoff; its state is reported through ``on_status``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from config.edge import CameraSettings

log = logging.getLogger(__name__)

__all__ = ["CameraReader", "CameraStatus", "Frame", "FrameSlot", "is_live", "open_capture"]

# RTSP over TCP: no UDP packet loss smearing frames, and it passes through NAT/firewalls.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

#: Consecutive unreadable frames after which a live source is reopened.
_MAX_BAD_READS = 25


class CameraStatus(StrEnum):
    """Lifecycle of one camera reader (the camera-status signal)."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: ``image`` (H, W, 3) uint8 BGR; ``ts`` capture time, UTC epoch seconds."""

    camera_id: str
    index: int
    ts: float
    image: np.ndarray

    @property
    def width(self) -> int:
        """Frame width, pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Frame height, pixels."""
        return int(self.image.shape[0])


class FrameSlot:
    """Hand-over between a reader and its consumer.

    ``latest_only`` (live sources): :meth:`put` replaces an unconsumed frame and returns True
    (one drop). Otherwise :meth:`put` waits until the consumer took the previous frame.
    """

    def __init__(self, latest_only: bool) -> None:
        self._latest_only = latest_only
        self._frame: Frame | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, frame: Frame, stop: threading.Event | None = None) -> bool:
        """Offer a frame; returns True when an unconsumed older frame was dropped for it."""
        with self._cond:
            if not self._latest_only:
                while self._frame is not None and not self._closed and not (stop and stop.is_set()):
                    self._cond.wait(0.1)
            dropped = self._frame is not None
            self._frame = frame
            self._cond.notify_all()
            return dropped

    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None after ``timeout`` or once closed and empty."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        """No more frames will come; wakes the consumer."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once the reader finished and the last frame was taken."""
        with self._cond:
            return self._closed and self._frame is None


def is_live(url: str) -> bool:
    """True for network streams and devices (anything that is not a plain file)."""
    return "://" in url or url.startswith("/dev/video") or url.isdigit()


def open_capture(settings: CameraSettings) -> tuple[cv2.VideoCapture, str]:
    """Open the source, trying hardware decode first unless ``decode: cpu``; returns (capture, decode kind).

    The returned capture may be closed (``isOpened()`` False) when the source is unreachable.
    """
    url = settings.url
    if url.startswith("/dev/video") or url.isdigit():
        index = int(url.removeprefix("/dev/video"))
        return cv2.VideoCapture(index, cv2.CAP_V4L2), "cpu"
    timeout_ms = int(settings.open_timeout_s * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    if settings.decode in ("auto", "hw"):
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_HW_ACCELERATION, cv2.VIDEO_ACCELERATION_ANY, *params])
        if cap.isOpened() and cap.get(cv2.CAP_PROP_HW_ACCELERATION) not in (0, cv2.VIDEO_ACCELERATION_NONE):
            return cap, "hw"
        if cap.isOpened() and settings.decode == "auto":
            return cap, "cpu"
        cap.release()
        if settings.decode == "hw":
            log.warning("camera %s: hardware decode unavailable, falling back to CPU", settings.id)
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_HW_ACCELERATION, cv2.VIDEO_ACCELERATION_NONE, *params])
    return cap, "cpu"


class CameraReader(threading.Thread):
    """Reads one camera into a :class:`FrameSlot` until the source ends or :meth:`stop` is called.

    ``on_status(camera_id, status, detail)`` is called on every state change; ``on_read(seconds)``
    after each decoded frame, ``on_drop()`` for each frame dropped by the newest-frame policy,
    ``on_bad_frame()`` for each unreadable frame. ``clock`` gives UTC epoch seconds.
    """

    def __init__(
        self,
        settings: CameraSettings,
        slot: FrameSlot | None = None,
        *,
        on_status: Callable[[str, CameraStatus, str], None] | None = None,
        on_read: Callable[[float], None] | None = None,
        on_drop: Callable[[], None] | None = None,
        on_bad_frame: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        opener: Callable[[CameraSettings], tuple[cv2.VideoCapture, str]] = open_capture,
    ) -> None:
        super().__init__(name=f"camera-{settings.id}", daemon=True)
        self.settings = settings
        #: Plain file (ends, or loops, at its end) rather than a network stream or device.
        self.file = not is_live(settings.url)
        #: Live pacing: newest frame wins (streams, devices, and files with ``realtime: true``).
        self.live = settings.realtime if settings.realtime is not None else not self.file
        self.slot = slot or FrameSlot(latest_only=self.live)
        self.status = CameraStatus.CONNECTING
        self.decode = "none"
        self._on_status = on_status or (lambda *_: None)
        self._on_read = on_read or (lambda _s: None)
        self._on_drop = on_drop or (lambda: None)
        self._on_bad = on_bad_frame or (lambda: None)
        self._clock = clock
        self._opener = opener
        self._halt = threading.Event()
        self._index = 0

    def stop(self) -> None:
        """Ask the reader to finish; it closes its slot."""
        self._halt.set()

    def _set_status(self, status: CameraStatus, detail: str = "") -> None:
        if status != self.status or detail:
            self.status = status
            log.info("camera %s: %s %s", self.settings.id, status, detail)
            self._on_status(self.settings.id, status, detail)

    def run(self) -> None:
        """Open, read, reconnect with backoff, until the end of a file or :meth:`stop`."""
        delay = self.settings.reconnect_min_s
        ts_offset = 0.0
        start = self._clock()
        try:
            while not self._halt.is_set():
                cap, self.decode = self._opener(self.settings)
                if not cap.isOpened():
                    cap.release()
                    if self.file:
                        self._set_status(CameraStatus.ENDED, f"cannot open {self.settings.url!r}")
                        return
                    self._set_status(CameraStatus.RECONNECTING, f"cannot open, retry in {delay:.1f}s")
                    self._halt.wait(delay)
                    delay = min(delay * 2, self.settings.reconnect_max_s)
                    continue
                self._set_status(CameraStatus.STREAMING, f"decode={self.decode}")
                try:
                    got_any, last_pts = self._read_loop(cap, start, ts_offset)
                finally:
                    cap.release()
                if got_any:
                    delay = self.settings.reconnect_min_s
                if self._halt.is_set():
                    break
                if self.file:
                    if not self.settings.loop:
                        self._set_status(CameraStatus.ENDED, "end of file")
                        return
                    ts_offset += last_pts + 1.0 / self.settings.fps_cap
                    continue
                self._set_status(CameraStatus.RECONNECTING, f"stream lost, retry in {delay:.1f}s")
                self._halt.wait(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)
        finally:
            if self._halt.is_set():
                self._set_status(CameraStatus.STOPPED)
            self.slot.close()

    def _read_loop(self, cap: cv2.VideoCapture, start: float, ts_offset: float) -> tuple[bool, float]:
        """Read until failure/end; returns (got any frame, last file position in seconds)."""
        min_gap = 1.0 / self.settings.fps_cap - 1e-4
        last_emit: float | None = None
        bad = 0
        got_any = False
        pts = 0.0
        while not self._halt.is_set():
            t0 = time.perf_counter()
            ok = cap.grab()
            if not ok:
                if self.file:  # end of file (or a file that cannot be read on): the caller ends or loops
                    return got_any, pts
                bad += 1
                self._on_bad()
                if bad >= _MAX_BAD_READS or not cap.isOpened():
                    return got_any, pts
                continue
            if self.file:  # the file's own timeline, from when the camera started
                pts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                ts = start + ts_offset + pts
            else:
                ts = self._clock()
            if last_emit is not None and ts - last_emit < min_gap:
                continue  # over the fps cap: grabbed (demuxed) but not decoded
            ok, image = cap.retrieve()
            self._on_read(time.perf_counter() - t0)
            if not ok or image is None or image.ndim != 3 or image.size == 0:
                bad += 1
                self._on_bad()
                if self.live and bad >= _MAX_BAD_READS:
                    return got_any, pts
                continue
            bad = 0
            got_any = True
            last_emit = ts
            if self.live and self.file:
                # A file played as a live camera: keep its own pace.
                wait = ts - self._clock()
                if wait > 0:
                    self._halt.wait(wait)
            frame = Frame(self.settings.id, self._index, ts, image)
            self._index += 1
            if self.slot.put(frame, self._halt):
                self._on_drop()
        return got_any, pts
