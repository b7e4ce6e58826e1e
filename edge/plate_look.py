"""A second look for plates inside the vehicles where the frame's pass found none.

The plate detector sees the whole frame at its input size (512 px): a 1080p frame is shrunk 3.75
times, so a plate 60-130 px wide, a car at the far end of a car park or a lane away, is 16-35 px
there and often missed. The vehicle stage has found the car already (:mod:`edge.vehicles`): the
detector run again on the vehicle's own box, enlarged to its input size, sees the plate 2-6 times
larger. On the openalpr-us photos this finds 6 of the 11 labelled plates the first pass misses
(docs/accuracy.md, "Whole images: a look inside each vehicle"), about what a whole second pass at
1024 px finds (``edge.detector.retry_size``) at a fraction of its cost, and it works on video:
it runs only on frames where the vehicle detector ran, on vehicles with no plate box inside,
at most ``max_per_frame`` of them (the largest first).

:func:`look_in_vehicles` is pure but for the detector call: boxes in, boxes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from config.edge import PlateLookSettings
from edge.detect import Detections, Detector, SecondLook

__all__ = ["MAX_BACKOFF_S", "LookSchedule", "Looked", "look_in_vehicles", "single_pass"]

Box = tuple[float, float, float, float]

#: Longest wait between two looks at one vehicle track (seconds): a parked car with no plate in
#: view is looked in about once a minute.
MAX_BACKOFF_S = 60.0

#: A found box with more than this part of its area on a box already kept is that plate again
#: (a vehicle whose box cuts a plate the frame's pass found, two overlapping vehicles).
_SAME_PLATE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Looked:
    """What a look found: the frame's plates with the new ones (``plates`` is the very object
    passed in when nothing was added), the vehicles looked in, and the plates added."""

    plates: Detections
    looked: tuple[int, ...] = ()  # indices of the vehicles looked in
    found: int = 0
    held: tuple[int, ...] = ()  # those of them that held a plate box (added, or one known already)

    @property
    def vehicles(self) -> int:
        """Vehicles looked in (one detector pass each)."""
        return len(self.looked)


def single_pass(detector: Detector) -> Detector:
    """The detector's first pass: a vehicle's box is looked at once, never again at a larger size."""
    return detector.first if isinstance(detector, SecondLook) else detector


def look_in_vehicles(
    detector: Detector,
    image: np.ndarray,
    plates: Detections,
    vehicles: Sequence[Box],
    settings: PlateLookSettings,
) -> Looked:
    """``plates`` and the plates ``detector`` finds inside those of ``vehicles`` (x1, y1, x2, y2 in
    frame pixels) that hold no plate box's centre, are at least ``settings.min_width`` wide, and are
    among the ``settings.max_per_frame`` widest such; each box is enlarged by ``settings.margin`` of
    its size on every side (a plate at a bumper's edge) and clipped to the frame. Found boxes come
    back in frame pixels, each plate once (:func:`_once`: a plate the frame's pass found already,
    or one two overlapping vehicles show, is not added again). ``plates`` unchanged when the look
    is off or adds nothing."""
    if not settings.enabled or not vehicles or image.ndim != 3:
        return Looked(plates)
    h, w = image.shape[:2]
    centres = (plates.xyxy[:, :2] + plates.xyxy[:, 2:]) / 2 if len(plates) else np.zeros((0, 2), np.float32)
    empty = [
        i
        for i, v in enumerate(vehicles)
        if all(np.isfinite(v))  # a broken box from a detector is no place to look
        and v[2] > 0
        and v[3] > 0
        and v[0] < w
        and v[1] < h  # some of it in the frame
        and v[2] - v[0] >= settings.min_width
        and not np.any(
            (centres[:, 0] >= v[0]) & (centres[:, 0] <= v[2]) & (centres[:, 1] >= v[1]) & (centres[:, 1] <= v[3])
        )
    ]
    empty.sort(key=lambda i: vehicles[i][2] - vehicles[i][0], reverse=True)
    found: list[Detections] = []
    looked: list[int] = []
    held: list[int] = []
    for i in empty[: settings.max_per_frame]:
        x1, y1, x2, y2 = vehicles[i]
        mx, my = settings.margin * (x2 - x1), settings.margin * (y2 - y1)
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if cx2 - cx1 < 2 or cy2 - cy1 < 2:
            continue
        dets = detector.detect(image[cy1:cy2, cx1:cx2])
        looked.append(i)
        if len(dets):
            held.append(i)
            offset = np.array([cx1, cy1, cx1, cy1], np.float32)
            found.append(Detections(dets.xyxy + offset, dets.confidence, dets.class_id))
    merged = _once(plates, found) if found else plates
    added = len(merged) - len(plates)
    return Looked(merged if added else plates, tuple(looked), added, tuple(held))


class LookSchedule:
    """When each vehicle track may be looked in again (``backoff_s`` after an empty look, doubled
    after each further one up to :data:`MAX_BACKOFF_S`; at once again after a look that held a
    plate). Times are the frames' own timestamps (injected, never the clock)."""

    def __init__(self, backoff_s: float) -> None:
        self._backoff = backoff_s
        self._next: dict[str, tuple[float, float]] = {}  # track id -> (not before, gap)

    def due(self, track_id: str, ts: float) -> bool:
        """Whether ``track_id`` may be looked in at ``ts``."""
        entry = self._next.get(track_id)
        return entry is None or ts >= entry[0]

    def looked(self, track_id: str, ts: float, held: bool) -> None:
        """Note a look at ``track_id`` at ``ts`` and whether it held a plate."""
        if held or self._backoff <= 0:
            self._next.pop(track_id, None)
            return
        gap = self._next[track_id][1] * 2 if track_id in self._next else self._backoff
        gap = min(gap, MAX_BACKOFF_S)
        self._next[track_id] = (ts + gap, gap)

    def forget(self, track_ids: Iterable[str]) -> None:
        """Drop ended tracks."""
        for track_id in track_ids:
            self._next.pop(track_id, None)

    def __len__(self) -> int:
        return len(self._next)


def _once(plates: Detections, found: list[Detections]) -> Detections:
    """``plates`` followed by the found boxes, each plate once: a found box is dropped where more
    than :data:`_SAME_PLATE_SHARE` of it lies on a box kept before it (the frame pass's first, then
    the found ones, most confident first)."""
    xyxy = np.concatenate([plates.xyxy, *(d.xyxy for d in found)]).astype(np.float32)
    conf = np.concatenate([plates.confidence, *(d.confidence for d in found)]).astype(np.float32)
    cls = np.concatenate([plates.class_id, *(d.class_id for d in found)]).astype(np.int32)
    keep = list(range(len(plates)))
    extra = sorted(range(len(plates), len(xyxy)), key=lambda i: -conf[i])
    for i in extra:
        if all(_share_on(xyxy[i], xyxy[k]) <= _SAME_PLATE_SHARE for k in keep):
            keep.append(i)
    index = np.asarray(keep, np.int64)
    return Detections(xyxy[index], conf[index], cls[index])


def _share_on(a: np.ndarray, b: np.ndarray) -> float:
    """The part of box ``a``'s area that lies on box ``b``."""
    ix = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    iy = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    area = float((a[2] - a[0]) * (a[3] - a[1]))
    return ix * iy / area if area > 0 else 1.0
