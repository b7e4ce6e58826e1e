"""Deskewing plate crops: the text turned horizontal and the characters stood upright before reading.

A plate seen from the side or on a tilted car reaches the reader rotated by a few degrees and
its characters leaning; both engines read lines (plate_rec by a horizontal projection, rapidocr's
band reading too), so a slanted line loses characters at its ends or merges the rows of a two-row
plate, and leaning characters look alike (1/7, 0/D). Two searches, each by the projection-profile
method of document deskewing, on the crop in grey scaled to 64 px high:

- :func:`skew_angle`: the rotation whose horizontal edges (vertical gradient) pile up into the
  fewest rows (largest sum of squared row sums); :func:`rotate` undoes it;
- :func:`shear_angle`: then the horizontal shear whose vertical edges (character strokes) pile up
  into the fewest columns; :func:`unshear` undoes it.

:func:`deskew` applies each when it is at least its minimum angle (smaller ones are left alone:
the readers cope with them and resampling blurs a little), with replicated borders. Measured
on the val sets (docs/accuracy.md, "Deskewing"); about 0.6 ms of CPU per crop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import cv2
import numpy as np

from ocr.base import OcrEngine, OcrResult

_HEIGHT = 64  # the angle is searched on the crop scaled to this height
COARSE = 3  # the angle search tries every third step first, then the steps around the best


def _edges(image: np.ndarray, dx: int, dy: int) -> np.ndarray | None:
    """|Sobel| of ``image`` in grey, scaled to ``_HEIGHT`` rows; None for a crop too small."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = grey.shape[:2]
    if h < 4 or w < 4:
        return None
    width = max(8, round(w * _HEIGHT / h))
    small = cv2.resize(grey, (width, _HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.abs(cv2.Sobel(small, cv2.CV_32F, dx, dy, ksize=3))


def _rotation_matrix(angle_deg: float, height: int, width: int) -> np.ndarray:
    """Affine matrix rotating by ``angle_deg`` (counter-clockwise positive) about the centre."""
    return cv2.getRotationMatrix2D((width / 2, height / 2), angle_deg, 1.0)


def _shear_matrix(angle_deg: float, height: int, width: int = 0) -> np.ndarray:
    """Affine matrix moving row y by ``tan(angle) * (y - height / 2)`` pixels to the right."""
    t = math.tan(math.radians(angle_deg))
    return np.float32([[1, t, -t * height / 2], [0, 1, 0]])


def _best_angle(
    edges: np.ndarray | None,
    matrix: Callable[[float, int, int], np.ndarray],
    axis: int,
    max_deg: float,
    step_deg: float,
    coarse: int = COARSE,
) -> float:
    """The angle within ``+-max_deg`` (a multiple of ``step_deg``) whose ``matrix`` warp of
    ``edges`` piles them up into the fewest rows (``axis=1``) or columns (``axis=0``): the largest
    sum of squared projections; on a tie (a blank crop) the smaller angle, so a blank crop stays as
    it is; None edges give 0.

    Searched coarse to fine: every ``coarse``-th step from 0 outwards, then the steps between
    around the best of those (``coarse=1``: every step). The score is smooth in the angle at the
    resolution searched, so this finds the exhaustive search's angle at 15 warps instead of 31
    (the same applied angle on 905 of the 906 val crops; docs/accuracy.md, "Deskewing")."""
    if edges is None or max_deg <= 0:
        return 0.0
    height, width = edges.shape
    n = int(round(max_deg / step_deg))
    scores: dict[int, float] = {}

    def best_of(steps: Iterable[int]) -> int:
        for k in steps:
            if k not in scores:
                warped = cv2.warpAffine(
                    edges, matrix(k * step_deg, height, width), (width, height), flags=cv2.INTER_LINEAR, borderValue=0
                )
                profile = warped.sum(axis=axis)
                scores[k] = float(np.dot(profile, profile))
        return max(scores, key=lambda k: (scores[k], -abs(k), -k))

    centre = best_of(k for k in range(-n, n + 1) if k % coarse == 0)
    best = best_of(range(max(-n, centre - coarse + 1), min(n, centre + coarse - 1) + 1))
    return best * step_deg


def skew_angle(image: np.ndarray, max_deg: float = 15.0, step_deg: float = 1.0) -> float:
    """Rotation in degrees (counter-clockwise positive, as ``cv2.getRotationMatrix2D``) that
    makes the text of ``image`` (BGR or grey uint8) horizontal, within ``+-max_deg``: the one
    whose horizontal edges pile up into the fewest rows. A blank or tiny crop gives 0."""
    return _best_angle(_edges(image, 0, 1), _rotation_matrix, 1, max_deg, step_deg)


def shear_angle(image: np.ndarray, max_deg: float = 20.0, step_deg: float = 2.0) -> float:
    """Horizontal shear in degrees that makes the character strokes of ``image`` vertical (a plate
    seen from the side leans its characters), within ``+-max_deg``: the shear whose vertical
    edges pile up into the fewest columns. A blank or tiny crop gives 0."""
    return _best_angle(_edges(image, 1, 0), _shear_matrix, 0, max_deg, step_deg)


def unshear(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """``image`` sheared horizontally by ``angle_deg`` about its middle row, borders replicated."""
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image, _shear_matrix(angle_deg, h), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def rotate(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """``image`` rotated by ``angle_deg`` about its centre, same size, borders replicated."""
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image, _rotation_matrix(angle_deg, h, w), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def deskew(
    image: np.ndarray, min_deg: float = 2.0, max_deg: float = 15.0, shear_min_deg: float | None = None
) -> np.ndarray:
    """``image`` with its text turned horizontal (skews below ``min_deg`` left alone), then its
    characters stood upright (shears below ``shear_min_deg`` left alone; None: no shear step).
    The input itself when nothing was changed."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0 or image.dtype != np.uint8:
        return image
    angle = skew_angle(image, max_deg)
    if abs(angle) >= min_deg:
        image = rotate(image, angle)
    if shear_min_deg is not None:
        lean = shear_angle(image)
        if abs(lean) >= shear_min_deg:
            image = unshear(image, lean)
    return image


class DeskewingReader:
    """An engine that reads deskewed crops (``ocr.deskew``); anything it cannot deskew goes as it is."""

    def __init__(self, engine: OcrEngine, min_deg: float, max_deg: float, shear_min_deg: float | None = None) -> None:
        self._engine = engine
        self._args = (min_deg, max_deg, shear_min_deg)

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """One result per crop, in order."""
        return self._engine.read([deskew(image, *self._args) for image in images])
