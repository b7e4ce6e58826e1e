"""Crop preprocessing for recognisers: validation, padding, text-row splitting, resizing.

Every function returns new arrays and never mutates its input.
"""

from __future__ import annotations

import cv2
import numpy as np


def as_bgr(image: object) -> np.ndarray | None:
    """The crop as a contiguous ``(h, w, 3)`` uint8 BGR array, or None when it is not a readable image.

    Accepts ``(h, w)`` grey, ``(h, w, 1)``, ``(h, w, 3)`` BGR and ``(h, w, 4)`` BGRA uint8 arrays
    of at least 4x4 pixels.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 3:
        out = np.ascontiguousarray(image)
    elif image.ndim == 3 and image.shape[2] == 4:
        out = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    else:
        return None
    if out.shape[0] < 4 or out.shape[1] < 4:
        return None
    return out


def pad(image: np.ndarray, fraction: float) -> np.ndarray:
    """Add a replicated border of ``fraction`` of the height (top/bottom) and width (left/right)."""
    if fraction <= 0:
        return image
    h, w = image.shape[:2]
    dy, dx = round(h * fraction), round(w * fraction)
    return cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_REPLICATE)


def _bands(profile: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Runs ``[start, end)`` where ``profile > threshold``."""
    above = np.concatenate(([False], profile > threshold, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _profile(image: np.ndarray) -> np.ndarray:
    """Mean vertical-edge strength of each row of the crop resized to 64 rows, lightly smoothed."""
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (max(8, round(w * PROFILE_ROWS / h)), PROFILE_ROWS), interpolation=cv2.INTER_AREA)
    edges = np.abs(cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3))
    # Ignore the outer columns: plate frames and car bodies make strong vertical edges there.
    margin = small.shape[1] // 20
    profile = edges[:, margin : small.shape[1] - margin].mean(axis=1)
    return np.convolve(profile, np.ones(3) / 3, mode="same")


PROFILE_ROWS = 64


def main_band(profile: np.ndarray, min_row_fraction: float = 0.22) -> tuple[int, int]:
    """The rows ``[top, bottom)`` (in profile rows) of the plate's main characters.

    Text is dense in vertical strokes; plate borders, bolts and backgrounds are not. Thin bands
    such as US state names and slogans are dropped: bands at least 0.6 times as tall as the
    tallest (and ``min_row_fraction`` of the height) are kept, and the span from the first to
    the last kept band is returned, grown by 15% of its height.
    """
    n = len(profile)
    peak = float(profile.max())
    if peak <= 0:
        return 0, n
    bands = _bands(profile, 0.35 * peak)
    tallest = max((e - s for s, e in bands), default=0)
    keep = [(s, e) for s, e in bands if e - s >= max(0.6 * tallest, min_row_fraction * n)]
    if not keep:
        return 0, n
    top, bottom = keep[0][0], keep[-1][1]
    grow = max(2, round(0.15 * (bottom - top)))
    return max(0, top - grow), min(n, bottom + grow)


def row_split(profile: np.ndarray, top: int, bottom: int, depth: float = 0.8) -> int | None:
    """A row between two text rows inside ``[top, bottom)``, or None for a one-row plate.

    The split is the weakest row in the middle 30-70% of the band when it is weaker than
    ``depth`` times the stronger row above and below it both.
    """
    height = bottom - top
    if height < 16:
        return None
    lo, hi = top + int(0.3 * height), top + int(0.7 * height)
    valley = lo + int(np.argmin(profile[lo:hi]))
    above, below = profile[top:valley].max(), profile[valley + 1 : bottom].max()
    if profile[valley] < depth * min(above, below):
        return valley
    return None


def row_layouts(image: np.ndarray) -> list[list[tuple[int, int]]]:
    """Ways to read the crop: a list of layouts, each a list of rows ``(top, bottom)`` in pixels.

    The first layout is the main text band as one line; a second one, when the band has a clear
    gap, reads it as two rows (two-row plates). The caller keeps the more confident reading.
    """
    h = image.shape[0]
    profile = _profile(image)
    top, bottom = main_band(profile)
    scale = h / PROFILE_ROWS

    def px(a: int, b: int) -> tuple[int, int]:
        return int(a * scale), min(h, int(np.ceil(b * scale)))

    layouts = [[px(top, bottom)]]
    split = row_split(profile, top, bottom)
    if split is not None:
        overlap = max(1, round(0.05 * (bottom - top)))
        layouts.append([px(top, split + overlap), px(split - overlap, bottom)])
    return layouts


def to_input(image: np.ndarray, height: int, max_width_ratio: float) -> np.ndarray:
    """Resize to ``height`` keeping the aspect (width capped at ``max_width_ratio * height``) and
    normalise to float32 ``(3, height, width)`` in [-1, 1], as PaddleOCR recognisers expect."""
    h, w = image.shape[:2]
    width = int(min(max(1, np.ceil(height * w / h)), round(max_width_ratio * height)))
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR if h < height else cv2.INTER_AREA)
    return (resized.astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0


def strip_side_band(image: np.ndarray, max_fraction: float = 0.22) -> np.ndarray:
    """The crop without a saturated blue side band at its left (EU, and similar plates elsewhere).

    The band's letters (country code, stars) are not part of the registration but general OCR
    reads them. Columns from the left edge whose pixels are mostly saturated blue-violet are cut
    when they span 3-``max_fraction`` of the width; otherwise the crop is returned unchanged.
    """
    h, w = image.shape[:2]
    hsv = cv2.cvtColor(image[:, : max(1, int(w * (max_fraction + 0.05)))], cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[:, :, 0], hsv[:, :, 1], hsv[:, :, 2]
    blue = (hue >= 95) & (hue <= 160) & (sat >= 70) & (val >= 40)
    column = blue[int(0.15 * h) : int(0.85 * h) + 1].mean(axis=0)
    start = 0
    while start < min(len(column), int(0.05 * w)) and column[start] < SOLID:
        start += 1
    end = start
    while end < len(column) and column[end] >= SOLID:
        end += 1
    width = end - start
    if width < max(2, 0.03 * w) or end > max_fraction * w:
        return image
    # A band is followed by the plate's background, not more blue (blue characters are not cut).
    after = column[end : end + max(2, int(0.05 * w))]
    if after.size and after.mean() > 0.25:
        return image
    return image[:, end:]


SOLID = 0.6  # fraction of a column's middle rows that must be blue to be part of a side band
