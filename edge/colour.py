"""Vehicle body colour from the pixels of its box: pure numpy/OpenCV, no model.

Method (measured in ``docs/vehicles.md`` on the labelled set ``evaluate/vehicle_colours.csv``):

1. **Body region**: the middle of the box, ``x`` 20-80 % and ``y`` 40-65 % of its height. Across
   front, rear and side views this is bonnet, boot lid or doors, and leaves out windows (above),
   wheels, bumper, plate and road (below) and the background at the sides.
2. **Pixels** in HSV (OpenCV: H 0-180, S and V 0-255), after a 3x3 blur against JPEG noise.
   Pixels near pure white (V > 245, S < 20: specular highlights and sky reflections) and near
   black (V < 20: deep shadow) are dropped unless they are most of the region.
3. **Chromatic or not**: a pixel is chromatic when S >= 70 and V >= 50. When at least 30 % of
   the region is chromatic, the colour is the most frequent hue band of the chromatic pixels
   (red, orange, yellow, green, blue, purple; orange and red pixels that are dark (V < 120)
   count as brown).
4. Otherwise the paint is achromatic and the median brightness V names it: < 70 black,
   < 150 grey (grey and silver), else white.

The track's colour is the vote of its frames weighted by box area (:mod:`edge.vehicles`).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLOURS", "body_region", "vehicle_colour"]

#: The colour names this module returns.
COLOURS = ("black", "blue", "brown", "green", "grey", "orange", "purple", "red", "white", "yellow")

# Hue band upper bounds (OpenCV hue, 0-180) and their names; red wraps around 180.
_HUES = ((8, "red"), (20, "orange"), (34, "yellow"), (85, "green"), (130, "blue"), (160, "purple"), (181, "red"))
_CHROMA_S, _CHROMA_V = 70, 50
_CHROMATIC_SHARE = 0.30
_BROWN_V = 120
_BLACK_V, _WHITE_V = 70, 150
_REGION_X = (0.20, 0.80)
_REGION_Y = (0.40, 0.65)


def body_region(frame_bgr: np.ndarray, xyxy: tuple[float, float, float, float]) -> np.ndarray:
    """The body region of a vehicle box (a view of the frame, (h, w, 3); empty when the box is)."""
    fh, fw = frame_bgr.shape[:2]
    x1, y1, x2, y2 = xyxy
    w, h = x2 - x1, y2 - y1
    rx1 = int(max(0, min(fw, x1 + _REGION_X[0] * w)))
    rx2 = int(max(0, min(fw, x1 + _REGION_X[1] * w)))
    ry1 = int(max(0, min(fh, y1 + _REGION_Y[0] * h)))
    ry2 = int(max(0, min(fh, y1 + _REGION_Y[1] * h)))
    return frame_bgr[ry1:ry2, rx1:rx2]


def _hue_name(hue: np.ndarray, value: np.ndarray) -> str:
    names = np.empty(hue.shape, dtype=object)
    low = 0
    for high, name in _HUES:
        names[(hue >= low) & (hue < high)] = name
        low = high
    names[np.isin(names, ("red", "orange")) & (value < _BROWN_V)] = "brown"
    labels, counts = np.unique(names.astype(str), return_counts=True)
    return str(labels[counts.argmax()])


def vehicle_colour(frame_bgr: np.ndarray, xyxy: tuple[float, float, float, float]) -> str | None:
    """The body colour of the vehicle in box ``xyxy`` of a BGR frame, or None when the region is too small."""
    region = body_region(frame_bgr, xyxy)
    if region.shape[0] < 4 or region.shape[1] < 4:
        return None
    if region.shape[0] * region.shape[1] > 96 * 96:  # enough pixels for a vote; keeps the cost flat
        region = cv2.resize(region, (96, 96), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(cv2.blur(region, (3, 3)), cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    usable = ~(((v > 245) & (s < 20)) | (v < 20))
    if usable.mean() >= 0.25:
        h, s, v = h[usable], s[usable], v[usable]
    chromatic = (s >= _CHROMA_S) & (v >= _CHROMA_V)
    if chromatic.mean() >= _CHROMATIC_SHARE:
        return _hue_name(h[chromatic], v[chromatic])
    brightness = float(np.median(v))
    if brightness < _BLACK_V:
        return "black"
    return "grey" if brightness < _WHITE_V else "white"
