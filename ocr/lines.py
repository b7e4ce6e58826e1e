"""Finding the text lines of a plate crop with a DB text detector (PP-OCRv6 det small, from the wheel).

Used by ``rows="detect"``: the detector's line boxes tell the plate's main characters (the
tallest lines) from state names, slogans, stickers and the surroundings a padded crop holds,
and two-row plates from one-row ones, without knowing the region's layout.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from config.ocr import OcrSettings
from ocr.sessions import WHEEL_DETECTOR, open_session, wheel_model_path

Box = tuple[int, int, int, int]  # x, y, w, h in crop pixels


class LineFinder:
    """Text line boxes of a crop. ``height``: the crop is resized to this many rows (stride 32)."""

    def __init__(self, model_path: Path, threads: int, height: int = 160, threshold: float = 0.3) -> None:
        self._session = open_session(model_path, threads)
        self._input = self._session.get_inputs()[0].name
        self._height = height
        self._threshold = threshold

    def boxes(self, image: np.ndarray) -> list[Box]:
        """Axis-aligned line boxes ``(x, y, w, h)`` in the crop's pixels, unordered."""
        h, w = image.shape[:2]
        border = max(2, h // 8)
        framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
        fh, fw = framed.shape[:2]
        out_h = self._height
        # Width to the nearest stride-32 multiple, capped: a sliver-shaped crop must not cost seconds.
        out_w = min(max(32, int(round(fw * out_h / fh / 32)) * 32), 12 * out_h)
        resized = cv2.resize(framed, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        blob = (resized.astype(np.float32).transpose(2, 0, 1)[None] / 127.5) - 1.0
        prob = self._session.run(None, {self._input: blob})[0][0, 0]
        mask = (prob > self._threshold).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        sx, sy = fw / out_w, fh / out_h
        found = []
        for x, y, bw, bh, area in stats[1:count]:
            if area < 12 or bh < 3:
                continue
            # DB shrinks text regions; grow them back by the unclip distance (ratio 1.6).
            grow = area * 1.6 / (2 * (bw + bh))
            x0, y0 = (x - grow) * sx - border, (y - grow) * sy - border
            x1, y1 = (x + bw + grow) * sx - border, (y + bh + grow) * sy - border
            x0, y0 = max(0, int(x0)), max(0, int(y0))
            x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                found.append((x0, y0, x1 - x0, y1 - y0))
        return found


def main_rows(boxes: list[Box], min_ratio: float = 0.6) -> list[Box]:
    """The plate's character rows, top to bottom: boxes at least ``min_ratio`` as tall as the
    tallest, merged into one box per row (boxes overlapping vertically by half)."""
    if not boxes:
        return []
    tallest = max(b[3] for b in boxes)
    big = sorted((b for b in boxes if b[3] >= min_ratio * tallest), key=lambda b: b[1] + b[3] / 2)
    rows: list[list[int]] = []
    for x, y, w, h in big:
        if rows:
            rx0, ry0, rx1, ry1 = rows[-1]
            overlap = min(ry1, y + h) - max(ry0, y)
            if overlap >= 0.5 * min(h, ry1 - ry0):
                rows[-1] = [min(rx0, x), min(ry0, y), max(rx1, x + w), max(ry1, y + h)]
                continue
        rows.append([x, y, x + w, y + h])
    return [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in rows]


def load_line_finder(settings: OcrSettings) -> LineFinder | None:
    """The wheel's PP-OCRv6 text detector when ``settings.rows`` asks for detected lines."""
    if settings.rows not in ("detect", "both"):
        return None
    return LineFinder(wheel_model_path(WHEEL_DETECTOR), settings.threads)
