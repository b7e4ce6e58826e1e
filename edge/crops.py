"""Plate crops: pad, cut, score, and pick the best few per track per time slice.

Pure functions over numpy arrays plus :class:`CropSelector`, a small bounded state per track that
keeps the ``per_slice`` best candidates of the current slice and releases them when the slice
(or the track) ends. Nothing here reads the clock: times come with the frames.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from config.edge import CropSettings

__all__ = [
    "CropCandidate",
    "CropSelector",
    "encode_jpeg",
    "pad_box",
    "quality_score",
    "sharpness",
]

# Scale of each quality term; chosen on the sample clip and openalpr-us crops.
_SHARPNESS_HALF = 150.0  # variance of Laplacian at which the sharpness term is 0.5
_GOOD_WIDTH = 120.0  # plate width (pixels) at which the size term saturates
_PLATE_ASPECT = 3.0  # typical width / height of a one-row plate (US 2:1 .. EU 4.7:1)
_EDGE_MARGIN = 0.05  # fraction of the frame size; boxes closer to the edge are likely cut


def pad_box(
    xyxy: tuple[float, float, float, float], padding: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """Grow a box by ``padding`` x its size on every side, clip to the frame; integer (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = xyxy
    pw, ph = (x2 - x1) * padding, (y2 - y1) * padding
    return (
        max(0, int(math.floor(x1 - pw))),
        max(0, int(math.floor(y1 - ph))),
        min(width, int(math.ceil(x2 + pw))),
        min(height, int(math.ceil(y2 + ph))),
    )


def sharpness(crop_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop (higher is sharper); 0 for an empty crop."""
    if crop_bgr.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY) if crop_bgr.ndim == 3 else crop_bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def quality_score(
    xyxy: tuple[float, float, float, float],
    confidence: float,
    sharp: float,
    frame_width: int,
    frame_height: int,
) -> float:
    """Quality of a plate crop in [0, 1]: the geometric mean of five terms in [0, 1].

    sharpness (saturating), size (plate width), detector confidence, aspect ratio (near a
    plate's), and distance from the frame edge (a box touching the edge is likely cut off).
    """
    x1, y1, x2, y2 = xyxy
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    s_sharp = sharp / (sharp + _SHARPNESS_HALF)
    s_size = min(1.0, w / _GOOD_WIDTH)
    s_conf = min(1.0, max(0.0, confidence))
    s_aspect = math.exp(-abs(math.log((w / h) / _PLATE_ASPECT)))
    margin = min(x1, y1, frame_width - x2, frame_height - y2)
    s_edge = min(1.0, max(0.0, margin / (_EDGE_MARGIN * min(frame_width, frame_height))))
    terms = (s_sharp, s_size, s_conf, s_aspect, s_edge)
    # Floor each term so one zero does not erase the others' ordering.
    return float(math.prod(max(t, 0.01) for t in terms) ** (1 / len(terms)))


def encode_jpeg(crop_bgr: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR crop; raises ValueError when OpenCV cannot encode it."""
    ok, buf = cv2.imencode(".jpg", crop_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot JPEG-encode a crop of shape {crop_bgr.shape}")
    return buf.tobytes()


@dataclass(frozen=True, slots=True)
class CropCandidate:
    """A scored plate crop of one frame; ``image`` is a copy (h, w, 3) uint8 of the padded crop."""

    track_id: str
    frame_index: int
    frame_ts: float
    xyxy: tuple[float, float, float, float]
    confidence: float
    quality: float
    sharpness: float
    frame_width: int
    frame_height: int
    image: np.ndarray
    vehicle_track_id: str | None = None
    vehicle_xyxy: tuple[float, float, float, float] | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None


@dataclass(slots=True)
class _Slice:
    index: int
    best: list[tuple[float, int, CropCandidate]] = field(default_factory=list)  # min-heap on quality


class CropSelector:
    """Per track, the ``per_slice`` best crops of each ``slice_s`` window (time since the track started)."""

    def __init__(self, settings: CropSettings) -> None:
        self._settings = settings
        self._slices: dict[str, _Slice] = {}
        self._starts: dict[str, float] = {}
        self._seq = itertools.count()

    def offer(self, cand: CropCandidate) -> list[CropCandidate]:
        """Consider a candidate; returns the previous slice's picks (best first) when a new slice begins."""
        start = self._starts.setdefault(cand.track_id, cand.frame_ts)
        index = int((cand.frame_ts - start) // self._settings.slice_s)
        current = self._slices.get(cand.track_id)
        released: list[CropCandidate] = []
        if current is None or current.index != index:
            if current is not None:
                released = _best_first(current)
            current = self._slices[cand.track_id] = _Slice(index)
        item = (cand.quality, next(self._seq), cand)
        if len(current.best) < self._settings.per_slice:
            heapq.heappush(current.best, item)
        elif cand.quality > current.best[0][0]:
            heapq.heapreplace(current.best, item)
        return released

    def close(self, track_id: str) -> list[CropCandidate]:
        """The picks of the track's open slice (best first); forgets the track."""
        self._starts.pop(track_id, None)
        current = self._slices.pop(track_id, None)
        return _best_first(current) if current else []

    def open_tracks(self) -> list[str]:
        """Tracks with a slice still open."""
        return list(self._slices)


def _best_first(s: _Slice) -> list[CropCandidate]:
    return [c for _, _, c in sorted(s.best, key=lambda item: (-item[0], item[1]))]
