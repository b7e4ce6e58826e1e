"""The blue band at the left of a European plate, seen in the crop: a country cue no string gives.

``12ABC3`` is a Dutch sidecode and a Maryland or Massachusetts plate alike; no format table can
tell them apart, and a US site's traffic mix (:mod:`operators.traffic_mix`) only helps where the
site has taught it. But every plate of the EU countries since the 1990s-2000s carries a band of
its own colour at the left (blue with the country letters, about 8% of the plate's width), and
US, Canadian, Brazilian or Pakistani plates do not. :func:`find_band` looks for it in a crop:

- a run of columns in the left third of the crop, at least 13% of its height wide (a band is
  about 40% of a plate's height; a character's stroke far less) and at most 16% of its width,
  most of whose pixels (over the middle 70% of the rows) are coloured, differ in colour from the
  plate's background (the brightest pixels of its middle) and are darker than it;
- no plate background just left of the run (the band is the plate's left end; a coloured
  character or graphic has the plate's white or yellow before it);
- the background coming back just right of the run (a band ends where the plate's white or
  yellow starts; a coloured car body or frame does not);
- no run of the same colour at the crop's right (a car body or frame around the plate). French
  and Italian plates, with a blue band at their right too, are missed: telling a car body from
  that band (by what is above and below the plate) found a band on more US plates (us-plates-ocr
  0.011 -> 0.016, openalpr-us 0.005 -> 0.014, two Californian plates among them), and their
  strings are told apart from other countries' by their formats already.

Hue is not used, only how far a colour is from the background's (CIE a*, b*): some cameras
tint whole frames. A crop with no colour at all (infrared at night, a grey camera) is
:attr:`Band.UNKNOWN`, as is one too small to say.

It is evidence, not a verdict: :func:`band_scales` turns it into factors on each country's
formats, ``P(what was seen | country)`` from how often the country's plates carry the band
(:data:`BAND_SHARE`) and how often the detector finds a band where there is one
(:data:`FOUND_WITH_BAND`) and where there is none (:data:`FOUND_WITHOUT_BAND`), measured on
real crops (docs/formats.md). A US site's learned mix still outweighs one crop's false band.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "BAND_SHARE",
    "FOUND_WITHOUT_BAND",
    "FOUND_WITH_BAND",
    "LOOK_HEIGHT",
    "Band",
    "band_scales",
    "find_band",
]

#: Share of a country's plates in use that carry the band at their left (the EU members; the UK's
#: is optional and rarer since 2021). Countries not listed carry none.
BAND_SHARE: dict[str, float] = {
    **dict.fromkeys(
        (
            "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
            "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        ),
        0.9,
    ),
    "GB": 0.3,
}  # fmt: skip

#: How often :func:`find_band` finds the band on a plate that has one, and finds one on a plate
#: that has none: measured on uc3m-ocr crops (Spanish, every one with a band: 0.70 by day, 0.45
#: at night) and on the us-plates-ocr crops and openalpr-us detector-like crops (none: 0.011,
#: 0.005), docs/formats.md.
FOUND_WITH_BAND = 0.65
FOUND_WITHOUT_BAND = 0.01

#: Rows of the crop the band is looked for in (its padding above and below left out).
_ROWS = (0.15, 0.85)
#: Height (pixels) the crop is reduced to before looking (area averaging): enough for the band.
#: A caller with a faster resize may hand a crop of this height (the flow's region step does).
LOOK_HEIGHT = 32
#: How far (CIE a*, b*) a pixel's colour is from the background's to be the band's, and the share
#: of a column's pixels that must be.
_COLOUR_DISTANCE = 10.0
_COLUMN_SHARE = 0.5
#: The run's width: least, of the crop's height (a character's stroke is narrower; 0.10 / 0.13 /
#: 0.16 / 0.20 found 0.718 / 0.697 / 0.676 / 0.643 of uc3m-ocr's day bands and 0.013 / 0.011 /
#: 0.008 / 0.007 of us-plates-ocr's crops); most, of its width.
_MIN_WIDTH = 0.13
_MAX_WIDTH = 0.16
#: How much darker (CIE L*) than the background a band pixel is (a band is blue on white or yellow).
_DARKER = 2.0
#: Share of background-like pixels just left of a run that makes it part of the plate, not its band.
_PLATE_LEFT = 0.6
#: Least colourfulness (CIE chroma) of a band pixel: grey or black surroundings are not a band.
_MIN_CHROMA = 8.0
#: A crop whose most coloured pixels are this close to grey has no colour to judge (infrared).
_GREY = 5.0
#: sRGB (linear) to CIE XYZ, and the D65 white point.
_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], dtype=np.float32
)
_WHITE = np.array([0.9505, 1.0, 1.089], dtype=np.float32)
#: Colours (CIE a*, b*) this close are the same to the eye (a car body at both sides of a plate;
#: two columns of one run).
_SAME_COLOUR = 20.0
#: Least crop size (pixels) to judge at all.
_MIN_SIZE = (12, 40)


class Band(StrEnum):
    """What a crop shows at its left: the band, no band, or nothing to judge by."""

    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


def find_band(image: npt.NDArray[np.uint8] | None) -> Band:
    """Whether the plate in ``image`` (a BGR crop ``(h, w, 3)``, uint8, as cv2 decodes it) has
    the band at its left (:mod:`operators.plate_band`); UNKNOWN for None, a grey or tiny crop."""
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        return Band.UNKNOWN
    h, w = image.shape[:2]
    if h < _MIN_SIZE[0] or w < _MIN_SIZE[1]:
        return Band.UNKNOWN
    if h == LOOK_HEIGHT and w >= 8:  # reduced by the caller already
        small = image.astype(np.float32)
    else:
        step = max(1, h // (4 * LOOK_HEIGHT))  # a crop far larger than needed (a whole frame) is thinned first
        small = _shrink(image[::step, ::step].astype(np.float32), LOOK_HEIGHT, max(8, round(w * LOOK_HEIGHT / h)))
    lum, red_green, yellow_blue = _lab(small)
    if _quantile(np.hypot(red_green, yellow_blue), 0.95) < _GREY:
        return Band.UNKNOWN
    height, width = lum.shape
    # The background: the brightest pixels of the plate's middle (white or yellow, between characters).
    mid_rows = slice(int(height * 0.3), int(height * 0.7))
    mid_cols = slice(int(width * 0.35), int(width * 0.85))
    mid = lum[mid_rows, mid_cols]
    bright = mid >= _quantile(mid, 0.7)
    bg_rg = float(red_green[mid_rows, mid_cols][bright].mean())
    bg_yb = float(yellow_blue[mid_rows, mid_cols][bright].mean())
    bg_lum = float(mid[bright].mean())
    rows = slice(int(height * _ROWS[0]), int(height * _ROWS[1]))
    rg, yb, lm = red_green[rows], yellow_blue[rows], lum[rows]
    coloured = (
        (np.hypot(rg - bg_rg, yb - bg_yb) >= _COLOUR_DISTANCE)
        & (np.hypot(rg, yb) >= _MIN_CHROMA)
        & (lm < bg_lum - _DARKER)
        & (lm > 6)
    )
    share = coloured.mean(axis=0)
    # Each column's colour (its coloured pixels' mean): a red car's body and a blue band beside it
    # are two runs, not one too wide to be a band.
    count = np.maximum(coloured.sum(axis=0), 1)
    column = (np.where(coloured, rg, 0).sum(axis=0) / count, np.where(coloured, yb, 0).sum(axis=0) / count)
    wide = [
        run
        for run in _runs(share, 0, int(width * 0.3), column)
        if _MIN_WIDTH * height <= run[1] - run[0] <= _MAX_WIDTH * width
    ]
    for start, end in sorted(wide, key=lambda run: run[0] - run[1]):  # the widest first
        if start > 0:  # the plate's own background just left of it: a character or graphic, not a band
            near = slice(max(0, start - max(2, int(0.04 * width))), start)
            plate_like = (np.hypot(rg[:, near] - bg_rg, yb[:, near] - bg_yb) < _COLOUR_DISTANCE) & (
                lm[:, near] > bg_lum - 15
            )
            if float(plate_like.mean()) >= _PLATE_LEFT:
                continue
        after = share[end : end + max(2, int(0.05 * width))]
        if after.size == 0 or float(after.min()) > 0.3:  # no background right of it: not a band
            continue
        inside = coloured[:, start:end]
        colour = float(np.median(rg[:, start:end][inside])), float(np.median(yb[:, start:end][inside]))
        right = [
            (float(np.median(rg[:, r0:r1])), float(np.median(yb[:, r0:r1])))
            for r0, r1 in _runs(share, int(width * 0.7), width)
            if r1 - r0 >= 2
        ]
        if _near(colour, right):  # the same colour at the right too: a car body or frame around the plate
            continue
        return Band.PRESENT
    return Band.ABSENT


def band_scales(band: Band, countries: Iterable[str]) -> dict[str, float]:
    """Factors on each of ``countries``' formats from what :func:`find_band` saw: the chance of
    seeing it on a plate of that country (relative; empty for UNKNOWN, which says nothing)."""
    if band is Band.UNKNOWN:
        return {}
    scales = {}
    for country in countries:
        share = BAND_SHARE.get(country, 0.0)
        found = share * FOUND_WITH_BAND + (1 - share) * FOUND_WITHOUT_BAND
        scales[country] = found if band is Band.PRESENT else 1 - found
    return scales


def _quantile(values: npt.NDArray[np.float32], q: float) -> float:
    """The ``q`` quantile of ``values`` (the element at that rank: no interpolation)."""
    flat = values.ravel()
    k = min(flat.size - 1, int(q * flat.size))
    return float(np.partition(flat, k)[k])


def _near(colour: tuple[float, float], others: Iterable[tuple[float, float]]) -> bool:
    """Whether any of ``others`` (a*, b*) is within :data:`_SAME_COLOUR` of ``colour``: the same
    colour to the eye."""
    return any(np.hypot(a - colour[0], b - colour[1]) < _SAME_COLOUR for a, b in others)


def _changes(colour: tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]] | None, j: int) -> bool:
    """Whether column ``j``'s colour differs from column ``j - 1``'s by :data:`_SAME_COLOUR` or more."""
    if colour is None:
        return False
    rg, yb = colour
    return bool(np.hypot(rg[j] - rg[j - 1], yb[j] - yb[j - 1]) >= _SAME_COLOUR)


def _shrink(image: npt.NDArray[np.float32], height: int, width: int) -> npt.NDArray[np.float32]:
    """``image`` reduced to ``(height, width)`` by averaging (each output pixel the mean of its
    block; a block is at least one pixel, so a smaller side is repeated)."""
    h, w = image.shape[:2]
    rows = np.minimum((np.arange(height) * h) // height, h - 1)
    cols = np.minimum((np.arange(width) * w) // width, w - 1)
    row_counts = np.diff(np.append(rows, h)).clip(min=1)
    col_counts = np.diff(np.append(cols, w)).clip(min=1)
    summed = np.add.reduceat(np.add.reduceat(image, rows, axis=0), cols, axis=1)
    out: npt.NDArray[np.float32] = summed / (row_counts[:, None, None] * col_counts[None, :, None])
    return out


def _lab(bgr: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], ...]:
    """CIE L*, a*, b* (D65) of 8-bit sRGB pixels given as BGR floats (0-255): L* 0-100."""
    srgb = bgr[..., ::-1] / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    return lightness, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])


def _runs(
    share: npt.NDArray[np.floating],
    lo: int,
    hi: int,
    colour: tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]] | None = None,
) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of columns in ``[lo, hi)`` (a run may go on past ``hi``)
    whose share of band-coloured pixels is at least :data:`_COLUMN_SHARE`; with ``colour`` (each
    column's a*, b*), a run also ends where the colour changes (by :data:`_SAME_COLOUR` or more
    from one column to the next)."""
    runs, i, n = [], lo, len(share)
    while i < min(hi, n):
        if share[i] >= _COLUMN_SHARE:
            j = i + 1
            while j < n and share[j] >= _COLUMN_SHARE and not _changes(colour, j):
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs
