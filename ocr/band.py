"""What a plate crop shows of the European band at a plate's left, from its pixels.

:func:`look_for_band` reduces a BGR crop with cv2 to the height :func:`operators.plate_band.find_band`
looks at (the same as its own area averaging, about a third of the time), then asks it. The edge
looks at each crop it publishes (``PlateCrop.band``, before JPEG); the flow looks only at crops
from an edge that did not (:mod:`flows.steps.region`); ``alpr eval`` at each crop it reads.
"""

from __future__ import annotations

import cv2
import numpy as np

from operators.plate_band import LOOK_HEIGHT, Band, find_band

__all__ = ["look_for_band"]


def look_for_band(image: np.ndarray | None) -> Band:
    """:func:`operators.plate_band.find_band` on a BGR crop, first reduced by cv2 to
    :data:`~operators.plate_band.LOOK_HEIGHT` rows when taller (UNKNOWN for None or a grey image)."""
    if image is not None and image.ndim == 3 and image.shape[0] > LOOK_HEIGHT:
        h, w = image.shape[:2]
        image = cv2.resize(image, (max(1, round(w * LOOK_HEIGHT / h)), LOOK_HEIGHT), interpolation=cv2.INTER_AREA)
    return find_band(image)
