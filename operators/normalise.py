"""Normalising plate text: canonical characters, and OCR confusions fixed by position.

:func:`compact` turns any OCR text into the canonical plate alphabet ``[A-Z0-9]``
(upper-case, accents and look-alike Cyrillic/Greek letters folded to Latin, separators
and everything else dropped). :class:`Confusions` then fixes characters a format wants
to be of the other kind, e.g. an ``O`` read where a format has a digit becomes ``0``.
Format classes, one letter per character:

- ``L`` letter A-Z, ``C`` consonant (no vowels, no Q; Spanish plates), ``N`` digit 0-9,
  ``A`` letter or digit (never changed).

:func:`plate_distance` is the confusion-aware edit distance shared by dedup and the
watchlist matcher.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

__all__ = [
    "CLASS_CHARS",
    "READ_AS",
    "Confusions",
    "compact",
    "fold_confusions",
    "plate_distance",
]

LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = frozenset("0123456789")
#: The characters each format class accepts (as written). ``K``: a letter other than I and Q
#: (British plates issue neither); ``D``: a digit of a font that draws 1 and 0 like the letters
#: I and O (the British one), so that a reader's I or O there is read as 1 or 0
#: (:data:`READ_AS`, used by the decoder ``ocr.syntax``).
CLASS_CHARS: dict[str, frozenset[str]] = {
    "L": LETTERS,
    "C": frozenset("BCDFGHJKLMNPRSTVWXYZ"),
    "N": DIGITS,
    "A": LETTERS | DIGITS,
    "K": LETTERS - {"I", "Q"},
    "D": DIGITS,
}
#: Per class, letters a reader may see for one of its characters, and the character written.
READ_AS: dict[str, dict[str, str]] = {"D": {"I": "1", "O": "0"}}

# Cyrillic and Greek capitals that look like Latin ones (OCR models trained on several
# scripts return them for Latin plates).
_HOMOGLYPHS = str.maketrans(
    {
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_CANONICAL = LETTERS | DIGITS

# Pairs an OCR engine mixes up, folded to one representative so that the edit distance
# of the folded strings counts only the non-confusable differences.
_FOLD = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2", "G": "6"})


@lru_cache(maxsize=65536)
def compact(text: str) -> str:
    """Canonical plate text: only ``A-Z`` and ``0-9``; ``compact(compact(t)) == compact(t)``.

    >>> compact(" ab-12·3 ")
    'AB123'
    >>> compact("МÜ 1234")  # Cyrillic M, German umlaut
    'MU1234'
    """
    if text.isascii():
        up = text.upper()
        if up.isalnum():
            return up
        return "".join(c for c in up if c in _CANONICAL)
    up = unicodedata.normalize("NFKD", text.upper().translate(_HOMOGLYPHS)).upper().translate(_HOMOGLYPHS)
    return "".join(c for c in up if c in _CANONICAL)


@dataclass(slots=True, frozen=True)
class Confusions:
    """Positional fixes of OCR confusions.

    ``to_digit`` maps a letter read where a digit is expected to that digit (``O -> 0``),
    ``to_letter`` a digit read where a letter is expected to that letter (``0 -> O``).
    """

    to_digit: Mapping[str, str]
    to_letter: Mapping[str, str]

    def __post_init__(self) -> None:
        for name, rules, src, dst in (
            ("to_digit", self.to_digit, LETTERS, DIGITS),
            ("to_letter", self.to_letter, DIGITS, LETTERS),
        ):
            for a, b in rules.items():
                if a not in src or b not in dst:
                    raise ValueError(f"Confusions.{name}: bad rule {a!r} -> {b!r}")
        object.__setattr__(self, "to_digit", dict(self.to_digit))
        object.__setattr__(self, "to_letter", dict(self.to_letter))

    def fix(self, plate: str, classes: str, max_fixes: int | None = None) -> tuple[str, int] | None:
        """Fit compact ``plate`` to per-character ``classes`` (same length).

        Returns ``(fixed plate, number of characters changed)``, or None when a character
        fits its class neither as read nor after a confusion fix, or when more than
        ``max_fixes`` characters would change.
        """
        if len(plate) != len(classes):
            return None
        out: list[str] | None = None
        fixes = 0
        for i, (c, k) in enumerate(zip(plate, classes, strict=True)):
            allowed = CLASS_CHARS[k]
            if c in allowed:
                continue
            repl = (self.to_digit if k in ("N", "D") else self.to_letter).get(c)
            if repl is None or repl not in allowed:
                return None
            fixes += 1
            if max_fixes is not None and fixes > max_fixes:
                return None
            if out is None:
                out = list(plate)
            out[i] = repl
        return (plate if out is None else "".join(out)), fixes


def fold_confusions(plate: str) -> str:
    """``plate`` with each confusable character replaced by its pair's representative."""
    return plate.translate(_FOLD)


def plate_distance(a: str, b: str, confusion_cost: float = 0.5, cutoff: float | None = None) -> float:
    """Confusion-aware edit distance of two compact plates.

    Edits between confusable characters (O/0/Q/D, I/1/L, B/8, S/5, Z/2, G/6) cost
    ``confusion_cost``, other edits 1: the result is ``d_f + confusion_cost * (d - d_f)``
    with ``d`` the Levenshtein distance and ``d_f`` that of the confusion-folded strings
    (``d_f <= d``). It is 0 only for equal plates and symmetric. With ``cutoff``, any
    distance above it may be returned as ``cutoff + 1``, which is faster.
    """
    if a == b:
        return 0.0
    limit = None if cutoff is None else int(cutoff) + 1
    folded = Levenshtein.distance(a.translate(_FOLD), b.translate(_FOLD), score_cutoff=limit)
    if cutoff is not None and folded > cutoff:
        return float(cutoff + 1)
    raw = Levenshtein.distance(a, b)
    return folded + confusion_cost * (raw - folded)
