"""Synthetic licence plates rendered with PIL: varied fonts, colours, layouts and formats.

A :class:`SynthPlate` is a clean, upright plate image and the text of each of its rows; the
degradations (perspective, blur, night, glare, JPEG) are applied afterwards by
``training.augment``. Formats are loosely modelled on US, EU, Brazilian and generic plates;
they need only look plausible, not match any real series.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LETTERS = string.ascii_uppercase
DIGITS = string.digits
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# Upright sans and mono faces look like plate lettering; serif and script faces do not.
FONT_HINTS = ("sans", "mono", "roboto", "liberation", "narrow", "condensed", "free")
FONT_AVOID = ("italic", "oblique", "serif", "math", "symbol", "emoji", "thin", "light")

# Format patterns: L = letter, D = digit, A = either; ' ' and '-' are drawn but not read.
FORMATS: dict[str, tuple[str, ...]] = {
    "us": (
        "LLL DDDD",
        "DLLL DDD",
        "LLL DDD",
        "DDD LLL",
        "LL DDDDD",
        "DDDDDD",
        "LLL LDD",
        "DAAA DDD",
        "AAAAA",
        "AAAAAA",
        "AAAAAAA",
        "DDD DDD",
        "LLLL DD",
        "DD LLLL",
    ),
    "eu": (
        "DDDD LLL",
        "LL-DDD-LL",
        "LL DDD LL",
        "LL DD LLL",
        "LLL DDDDD",
        "L LL DDDD",
        "LL DDDD L",
        "LLL DDDD",
        "DD-LLL-D",
        "LL-DD-LL",
        "LLDDDLL",
    ),
    "br": ("LLLDLDD", "LLL-DDDD", "LLL DLDD"),
    "generic": ("AAAA", "AAAAA", "AAAAAA", "AAAAAAA", "AAAAAAAA", "LL DDDD", "DDDD LL", "L DDDDD"),
}
TWO_ROW: tuple[tuple[str, str], ...] = (
    ("LL", "DDDD"),
    ("LLL", "DDDD"),
    ("DD", "LLLDD"),
    ("LLDD", "DDDD"),
    ("AAA", "AAAA"),
    ("LDD", "LLLL"),
    ("DDD", "LLL"),
    ("AA", "AAAAA"),
)
STATES = (
    "CALIFORNIA",
    "TEXAS",
    "FLORIDA",
    "NEW YORK",
    "OHIO",
    "ILLINOIS",
    "GEORGIA",
    "ARIZONA",
    "NEVADA",
    "OREGON",
    "MAINE",
    "VERMONT",
    "ALASKA",
    "IOWA",
    "UTAH",
    "IDAHO",
    "MONTANA",
    "KANSAS",
    "COLORADO",
    "VIRGINIA",
    "MICHIGAN",
    "INDIANA",
    "NEW JERSEY",
    "MARYLAND",
    "DELAWARE",
    "ONTARIO",
    "QUEBEC",
)
SLOGANS = (
    "Sunshine State",
    "Land of Lincoln",
    "Live Free or Die",
    "The Golden State",
    "dmv.gov",
    "Great Lakes",
    "Empire State",
    "Grand Canyon State",
    "Peach State",
    "First in Flight",
)


@dataclass(frozen=True, slots=True)
class SynthPlate:
    """A rendered plate: BGR uint8 image ``(h, w, 3)`` and the readable text of each row."""

    image: np.ndarray
    rows: tuple[str, ...]
    style: str

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"SynthPlate.image must be (h, w, 3) uint8, got {self.image.shape} {self.image.dtype}")
        if not self.rows or any(not r.isalnum() or r != r.upper() for r in self.rows):
            raise ValueError(f"SynthPlate.rows must be non-empty upper-case A-Z0-9 rows, got {self.rows!r}")

    @property
    def text(self) -> str:
        """All rows, top to bottom, without separators."""
        return "".join(self.rows)


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """Plate-like TrueType/OpenType fonts installed on this machine (may be empty)."""
    found: list[Path] = []
    for root in FONT_DIRS:
        if root.is_dir():
            found.extend(p for p in root.rglob("*") if p.suffix.lower() in {".ttf", ".otf"})
    names = [(p, p.name.lower()) for p in found]
    keep = [p for p, n in names if any(h in n for h in FONT_HINTS) and not any(a in n for a in FONT_AVOID)]
    return tuple(sorted(keep))


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = font_files()
    if files:
        return ImageFont.truetype(str(files[int(rng.integers(len(files)))]), size)
    return ImageFont.load_default(size=size)


# Half the one-row plates take a shape of a format preset of ``operators.plate_formats`` (the formats
# the reader decodes under): US plates the US states', EU plates Europe's, the rest any country's.
WORLD_SHARE = 0.5
WORLD_PRESETS = {"us": "US", "eu": "EU", "br": "BR", "generic": "ALL"}
_PATTERN_OF_CLASS = {"L": "L", "C": "L", "N": "D", "A": "A", "K": "L", "D": "D"}


@lru_cache(maxsize=8)
def _preset_shapes(preset: str) -> tuple[str, ...]:
    from operators.plate_formats import PRESETS, expand_template

    shapes = {c for spec in PRESETS[preset] if spec.weight is None for t in spec.templates
              for c in expand_template(t, spec.max_len)}  # fmt: skip
    return tuple(sorted(shapes))


def world_pattern(rng: np.random.Generator, preset: str) -> str:
    """A :func:`fill_pattern` pattern for a random shape of ``preset``'s formats, with a space or
    dash where letters and digits meet (half the time)."""
    shapes = _preset_shapes(preset)
    shape = shapes[int(rng.integers(len(shapes)))]
    out = []
    sep = " -"[int(rng.integers(2))] if rng.random() < 0.5 else ""
    for i, k in enumerate(shape):
        if i and sep and (k in "ND") != (shape[i - 1] in "ND"):
            out.append(sep)
        out.append(_PATTERN_OF_CLASS[k])
    return "".join(out)


def fill_pattern(pattern: str, rng: np.random.Generator) -> str:
    """A plate string for ``pattern`` (L letter, D digit, A either; other characters kept)."""
    out = []
    for p in pattern:
        if p == "L":
            out.append(LETTERS[int(rng.integers(26))])
        elif p == "D":
            out.append(DIGITS[int(rng.integers(10))])
        elif p == "A":
            out.append((LETTERS + DIGITS)[int(rng.integers(36))])
        else:
            out.append(p)
    return "".join(out)


def _colours(rng: np.random.Generator, style: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(background, text) RGB colours with enough contrast."""
    if style == "eu" and rng.random() < 0.3:
        return (245, 200, 20), (15, 15, 15)  # yellow rear plates
    if rng.random() < 0.1:  # dark plate, light text
        bg = tuple(int(v) for v in rng.integers(0, 70, size=3))
        return bg, tuple(int(v) for v in rng.integers(200, 256, size=3))  # type: ignore[return-value]
    bg = tuple(int(v) for v in rng.integers(175, 256, size=3))
    dark = ((10, 10, 10), (20, 30, 110), (120, 20, 20), (15, 80, 30), (60, 60, 60))
    text = dark[int(rng.integers(len(dark)))]
    jitter = rng.integers(-10, 11, size=3)
    return bg, tuple(int(np.clip(t + j, 0, 255)) for t, j in zip(text, jitter, strict=True))  # type: ignore[return-value]


def _text_image(text: str, font, colour, spacing: float) -> Image.Image:
    """``text`` drawn tightly on a transparent RGBA canvas, ``spacing`` x font size between glyphs."""
    size = font.size if hasattr(font, "size") else 20
    gap = round(spacing * size)
    boxes = [font.getbbox(c) for c in text]
    widths = [max(1, b[2] - b[0]) if c != " " else round(0.4 * size) for c, b in zip(text, boxes, strict=True)]
    top = min(b[1] for b in boxes)
    bottom = max(b[3] for b in boxes)
    canvas = Image.new("RGBA", (sum(widths) + gap * (len(text) - 1) + 2, bottom - top + 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    x = 1
    for c, b, w in zip(text, boxes, widths, strict=True):
        if c != " ":
            draw.text((x - b[0], 1 - top), c, font=font, fill=(*colour, 255))
        x += w + gap
    return canvas


def _paste_fit(plate: Image.Image, text_img: Image.Image, box: tuple[int, int, int, int], squeeze: float) -> None:
    """Paste ``text_img`` scaled to the box height (width scaled by ``squeeze``, capped by the box),
    centred in ``box`` = (left, top, right, bottom)."""
    left, top, right, bottom = box
    bh, bw = bottom - top, right - left
    w = max(1, round(text_img.width * bh / text_img.height * squeeze))
    w = min(w, bw)
    scaled = text_img.resize((w, bh), Image.BILINEAR)
    plate.alpha_composite(scaled, (left + (bw - w) // 2, top))


def render_plate(rng: np.random.Generator, style: str | None = None) -> SynthPlate:
    """One random clean plate of ``style`` (us, eu, br, generic, two_row; None = random)."""
    styles = ("us", "us", "eu", "eu", "br", "generic", "two_row")
    style = style or styles[int(rng.integers(len(styles)))]
    bg, fg = _colours(rng, style)
    squeeze = rng.uniform(0.65, 1.15)
    font = _font(rng, 64)
    spacing = rng.uniform(0.0, 0.15)
    if style == "two_row":
        top_p, bottom_p = TWO_ROW[int(rng.integers(len(TWO_ROW)))]
        rows = (fill_pattern(top_p, rng), fill_pattern(bottom_p, rng))
        w, h = int(rng.integers(220, 340)), int(rng.integers(160, 230))
    else:
        if rng.random() < WORLD_SHARE:  # a shape of a real format of the style's region
            pattern = world_pattern(rng, WORLD_PRESETS[style])
        else:
            pattern = FORMATS[style][int(rng.integers(len(FORMATS[style])))]
        drawn = fill_pattern(pattern, rng)
        rows = (drawn.replace(" ", "").replace("-", ""),)
        aspect = {"us": rng.uniform(1.8, 2.2), "eu": rng.uniform(3.8, 4.8), "br": rng.uniform(2.9, 3.3),
                  "generic": rng.uniform(2.0, 4.8)}[style]  # fmt: skip
        h = int(rng.integers(90, 150))
        w = int(h * aspect)
    plate = Image.new("RGBA", (w, h), (*bg, 255))
    draw = ImageDraw.Draw(plate)
    if rng.random() < 0.7:
        inset = int(rng.integers(1, 6))
        draw.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=(*fg, 255), width=int(rng.integers(1, 5)))
    left, right, top, bottom = int(0.05 * w), int(0.95 * w), int(0.1 * h), int(0.9 * h)
    if style == "us":
        small = _font(rng, 28)
        state = STATES[int(rng.integers(len(STATES)))]
        _paste_fit(plate, _text_image(state, small, fg if rng.random() < 0.5 else (150, 20, 20), 0.05),
                   (left, int(0.04 * h), right, int(0.2 * h)), 1.0)  # fmt: skip
        if rng.random() < 0.6:
            slogan = SLOGANS[int(rng.integers(len(SLOGANS)))]
            _paste_fit(plate, _text_image(slogan, small, fg, 0.02), (left, int(0.82 * h), right, int(0.95 * h)), 1.0)
        top, bottom = int(rng.uniform(0.22, 0.3) * h), int(rng.uniform(0.72, 0.8) * h)
    elif style == "eu":
        band = int(rng.uniform(0.08, 0.12) * w)
        draw.rectangle((0, 0, band, h), fill=(20, 50, 160, 255))
        code = ("E", "F", "D", "NL", "I", "PL", "B", "P")[int(rng.integers(8))]
        _paste_fit(plate, _text_image(code, _font(rng, 28), (255, 255, 255), 0.0),
                   (int(0.15 * band), int(0.6 * h), int(0.85 * band), int(0.88 * h)), 1.0)  # fmt: skip
        left = band + int(0.03 * w)
        top, bottom = int(0.12 * h), int(0.88 * h)
    elif style == "br":
        band_h = int(0.22 * h)
        draw.rectangle((0, 0, w, band_h), fill=(20, 50, 160, 255))
        _paste_fit(plate, _text_image("BRASIL", _font(rng, 28), (255, 255, 255), 0.05),
                   (int(0.3 * w), int(0.03 * h), int(0.7 * w), int(0.19 * h)), 1.0)  # fmt: skip
        top, bottom = int(0.3 * h), int(0.9 * h)
    if style == "two_row":
        mid = int(rng.uniform(0.45, 0.52) * h)
        gap = int(0.04 * h)
        _paste_fit(plate, _text_image(rows[0], font, fg, spacing), (left, int(0.1 * h), right, mid - gap), squeeze)
        _paste_fit(plate, _text_image(rows[1], font, fg, spacing), (left, mid + gap, right, int(0.92 * h)), squeeze)
    else:
        shown = drawn if rng.random() < 0.7 else rows[0]
        _paste_fit(plate, _text_image(shown, font, fg, spacing), (left, top, right, bottom), squeeze)
    rgb = np.asarray(plate.convert("RGB"))
    return SynthPlate(np.ascontiguousarray(rgb[:, :, ::-1]), rows, style)
