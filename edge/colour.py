"""Vehicle body colour from the pixels of its box: pure numpy/OpenCV, no model.

Method (measured in ``docs/vehicles.md`` on the labelled set ``evaluate/vehicle_colours.csv``;
``python -m evaluate.colours``):

1. **White balance**: the frame's grey-world gains (mean of each channel over a coarse grid of
   the frame, scaled to their common mean) are applied to the region, so a bluish or yellowish
   camera or sky cast does not colour a grey car.
2. **Body region**: the middle of the box, ``x`` 20-80 % and ``y`` 30-60 % of its height: bonnet
   or boot lid and doors across front, rear and side views; the bumper, plate, lights, wheels and
   road below it and the background at the sides are left out.
3. **Pixels** in HSV (OpenCV: H 0-180, S and V 0-255) after a 3x3 blur against JPEG noise.
4. **Chromatic or not**: a pixel is chromatic when S >= 100 and V >= 50. When at least 30 % of
   the region is, the colour is the most frequent hue band of the chromatic pixels (red, orange,
   yellow, green, blue, purple; red and orange pixels darker than V 120 count as brown).
5. Otherwise the paint is achromatic and the median V names it: < 80 black, < 190 grey (grey and
   silver), else white.

The thresholds of 4 and 5 were chosen on the first 50 rows of the labelled set and measured on
the other 48 (``docs/vehicles.md``). Chromatic colours are reliable; black, grey and white are
often confused (shade, sun, reflections). The track's colour is the vote of its frames weighted
by box area (:mod:`edge.vehicles`).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLOURS", "body_region", "vehicle_colour", "white_balance"]

#: The colour names this module returns.
COLOURS = ("black", "blue", "brown", "green", "grey", "orange", "purple", "red", "white", "yellow")

# Hue band upper bounds (OpenCV hue, 0-180) and their names; red wraps around 180.
_HUES = ((8, "red"), (20, "orange"), (34, "yellow"), (85, "green"), (130, "blue"), (160, "purple"), (181, "red"))
_CHROMA_S, _CHROMA_V = 100, 50
_CHROMATIC_SHARE = 0.30
_BROWN_V = 120
_BLACK_V, _WHITE_V = 80, 190
_REGION_X = (0.20, 0.80)
_REGION_Y = (0.30, 0.60)
_GRID = 16  # white-balance sample step, pixels


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


def white_balance(frame_bgr: np.ndarray) -> np.ndarray:
    """Grey-world gains (3,) float32 of a BGR frame: each channel's mean scaled to their common mean."""
    means = frame_bgr[::_GRID, ::_GRID].reshape(-1, 3).mean(axis=0)
    return (means.mean() / np.maximum(means, 1.0)).astype(np.float32)


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
    region = np.clip(region * white_balance(frame_bgr), 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(cv2.blur(region, (3, 3)), cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chromatic = (s >= _CHROMA_S) & (v >= _CHROMA_V)
    if chromatic.mean() >= _CHROMATIC_SHARE:
        return _hue_name(h[chromatic], v[chromatic])
    brightness = float(np.median(v))
    if brightness < _BLACK_V:
        return "black"
    return "grey" if brightness < _WHITE_V else "white"
