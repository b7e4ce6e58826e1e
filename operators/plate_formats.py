"""Plate format presets: per-region templates of character classes.

A template is one class letter per character (``L`` letter, ``N`` digit, ``C`` consonant
as on Spanish plates, ``A`` either, ``K`` a letter other than I and Q and ``D`` a digit that the
plate's font draws like I or O for 1 and 0, as on British plates), each optionally repeated ``{m}`` or ``{m,n}``:
``LLLN{3,4}`` is three letters then three or four digits. Plates are compared in
compact form (``A-Z0-9`` only): separators, spaces and region stickers are not part of a
template. Formats are the common passenger-car ones; when a read fits none of a
country's formats but the country's generic pattern, it is still accepted (see
``US`` below), so the list aims at good region guesses, not at rejecting plates.

Each preset name maps to the formats it enables: a country (``DE``), a US state
(``US-CA``), or a group (``US`` = every state plus the generic US pattern, ``EU`` =
every European country here, GB and CH included).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["PRESETS", "FormatSpec", "expand_template", "preset_formats"]

_TOKEN_RE = re.compile(r"([LNCAKD])(?:\{(\d+)(?:,(\d+))?\})?")
_TEMPLATE_RE = re.compile(r"(?:[LNCAKD](?:\{\d+(?:,\d+)?\})?)+")


@dataclass(slots=True, frozen=True)
class FormatSpec:
    """One plate format: a name, its region, and templates (``max_len`` caps the expansion).

    ``weight`` replaces the computed specificity of a catch-all format (see
    ``operators.validate``), so that a specific format needs a margin to win over it.
    ``share``: the part of its country's plates in this format (``operators.region_prior``;
    None: an equal part of what the country's other formats leave).
    """

    name: str
    region: str | None
    templates: tuple[str, ...]
    max_len: int | None = None
    weight: float | None = None
    share: float | None = None


def expand_template(template: str, max_len: int | None = None) -> tuple[str, ...]:
    """All class strings a template stands for, shortest first, without duplicates.

    >>> expand_template("LN{1,2}")
    ('LN', 'LNN')
    """
    if _TEMPLATE_RE.fullmatch(template) is None:
        raise ValueError(
            f"plate template {template!r}: use L, N, C, A, K, D, each optionally followed by {{m}} or {{m,n}}"
        )
    options: list[list[str]] = []
    for m in _TOKEN_RE.finditer(template):
        cls, lo, hi = m.group(1), m.group(2), m.group(3)
        low = 1 if lo is None else int(lo)
        high = low if hi is None else int(hi)
        if high < low:
            raise ValueError(f"plate template {template!r}: repeat {{{low},{high}}} has max below min")
        options.append([cls * n for n in range(low, high + 1)])
    out = {"".join(parts) for parts in itertools.product(*options)}
    if max_len is not None:
        out = {s for s in out if len(s) <= max_len}
    out.discard("")
    return tuple(sorted(out, key=lambda s: (len(s), s)))


def _us(state: str, *templates: str) -> FormatSpec:
    return FormatSpec(f"US-{state}", f"US-{state}", templates)


# Common standard passenger formats (current and still-circulating older series).
_US_STATES: tuple[FormatSpec, ...] = (
    _us("AL", "NLNNNNL", "NNLNNNL"),
    _us("AK", "LLLNNN"),
    _us("AZ", "LLLNNNN", "NNNLLL", "LLLNNN"),
    _us("AR", "NNNLLL", "LLLNNN"),
    _us("CA", "NLLLNNN"),
    _us("CO", "NNNLLL", "LLLNNNN"),
    _us("CT", "LLNNNNN", "NNNLLL"),
    _us("DE", "N{4,6}"),
    _us("DC", "LLNNNN"),
    _us("FL", "LNNNLL", "NNNLLL", "LLLLNN", "LLLNLL"),
    _us("GA", "LLLNNNN", "LLLNNN"),
    _us("HI", "LLLNNN"),
    _us("ID", "NLNNNNN", "NLLNNNN", "NLNNNN"),
    _us("IL", "LNNNNNN", "LLNNNNN"),
    _us("IN", "NNNLLL"),
    _us("IA", "NNNLLL", "LLLNNN"),
    _us("KS", "NNNLLL"),
    _us("KY", "NNNLLL", "LLLNNN"),
    _us("LA", "LLLNNN"),
    _us("ME", "NNNNLL", "NNNLLL"),
    _us("MD", "NLLNNNN", "LLLNNN", "NLLLNN"),
    _us("MA", "NLLLNN", "NNLLNN", "NNNLLN", "NLLNNN"),
    _us("MI", "LLLNNNN", "LLLNNN"),
    _us("MN", "LLLNNN", "NNNLLL"),
    _us("MS", "LLLNNN"),
    _us("MO", "LLNLNL"),
    _us("MT", "NNNNNNL"),
    _us("NE", "NLLNNN", "NNLNNN"),
    _us("NV", "NNNLLL"),
    _us("NH", "N{6,7}"),
    _us("NJ", "LNNLLL", "LLLNNL"),
    _us("NM", "LLLNNN", "NNNLLL"),
    _us("NY", "LLLNNNN"),
    _us("NC", "LLLNNNN"),
    _us("ND", "LLLNNN", "NNNLLL"),
    _us("OH", "LLLNNNN"),
    _us("OK", "NNNLLL", "LLLNNN"),
    _us("OR", "LLLNNN", "NNNLLL"),
    _us("PA", "LLLNNNN"),
    _us("RI", "LLNNN", "N{5,6}"),
    _us("SC", "LLLNNN"),
    _us("SD", "NLLNNN", "NNLNNN"),
    _us("TN", "NNNLLL"),
    _us("TX", "LLLNNNN", "LLNLNNN"),
    _us("UT", "LNNNLL", "NNNLLL"),
    _us("VT", "LLLNNN"),
    _us("VA", "LLLNNNN", "NNNNLL"),
    _us("WA", "LLLNNNN", "NNNLLL"),
    _us("WV", "NLNNNN", "NLLNNN"),
    _us("WI", "NNNLLL", "LLLNNNN", "LLLNNN"),
    _us("WY", "N{4,6}", "N{3,5}L"),
)
# Any US plate, vanity plates included: accepted, with a country-only region.
# Weight 4: a fix to a state format must be worth it (one fix on a 7-character plate).
_US_GENERIC = FormatSpec("US", "US", ("A{2,8}",), weight=4.0, share=0.03)  # vanity plates: ~3% of US plates


def _spec(name: str, *templates: str, max_len: int | None = None) -> FormatSpec:
    """A format whose region is the part of ``name`` before any ``/`` (``ES/provincial`` -> ES)."""
    return FormatSpec(name.replace("/", "-"), name.split("/", 1)[0], templates, max_len)


# Europe: the EU countries, the UK, Norway and Switzerland. Current series first, then older
# series still on the road. Region = ISO 3166-1 alpha-2 (GB for the United Kingdom).
_EUROPE: dict[str, tuple[FormatSpec, ...]] = {
    # District (1-3 letters), 1-2 letters, 1-4 digits; at most 8 characters.
    "DE": (FormatSpec("DE", "DE", ("L{1,3}L{1,2}N{1,4}",), max_len=8),),
    # SIV (2009-): AB-123-CD; FNI (-2009): 1234 AB 56.
    "FR": (
        FormatSpec("FR", "FR", ("LLNNNLL",), share=0.85),
        FormatSpec("FR-FNI", "FR", ("N{2,4}L{2,3}NN",), share=0.15),
    ),
    # 2000-: 1234 BCD (consonants only); trailers and mopeds: R 1234 BCD, C 1234 BCD;
    # provincial (-2000): M 1234 AB.
    "ES": (
        FormatSpec("ES", "ES", ("NNNNCCC",), share=0.9),
        FormatSpec("ES-special", "ES", ("LNNNNCCC",), share=0.02),
        FormatSpec("ES-provincial", "ES", ("L{1,2}NNNNL{1,2}",), share=0.08),
    ),
    "IT": (FormatSpec("IT", "IT", ("LLNNNLL",)),),
    # Dutch sidecodes 1-11.
    "NL": (
        FormatSpec(
            "NL",
            "NL",
            (
                "LLNNNN",
                "NNNNLL",
                "NNLLNN",
                "LLNNLL",
                "LLLLNN",
                "NNLLLL",
                "NNLLLN",
                "NLLLNN",
                "LLNNNL",
                "LNNNLL",
                "LLLNNL",
                "NLLNNN",
                "NNNLLN",
            ),
        ),
    ),  # fmt: skip
    # Current (2001-): AB12 CDE; prefix (1983-2001): A123 BCD; suffix (1963-1983): ABC 123D;
    # Northern Ireland: ABC 1234.
    # British letters leave out I and Q (K), and the British font draws 1 and 0 like I and O: in
    # the two long formats a reader's I or O at a digit is that digit (D). Not in the short ones,
    # which a word with an I or O would fit, nor in Northern Irish codes, which hold I (L).
    "GB": (
        FormatSpec("GB", "GB", ("KKDDKKK",), share=0.82),
        FormatSpec("GB-prefix", "GB", ("KDDDKKK", "KN{1,2}KKK"), share=0.1),
        FormatSpec("GB-suffix", "GB", ("KKKN{1,3}K",), share=0.02),
        FormatSpec("GB-NIR", "GB", ("LLLN{1,4}",), share=0.06),
    ),
    # County code (2-3 letters) then 4-5 letters or digits.
    "PL": (FormatSpec("PL", "PL", ("LLNA{4}", "LLLA{4,5}", "LLNNNNN")),),
    "BE": (FormatSpec("BE", "BE", ("NLLLNNN",)),),
    # 2020-: AA-00-AA; 2005-2020: 00-AA-00; 1992-2005: 00-00-AA; -1992: AA-00-00.
    "PT": (FormatSpec("PT", "PT", ("LLNNLL", "NNLLNN", "NNNNLL", "LLNNNN")),),
    # District (1-2 letters), then digits and letters, 3-8 characters in all.
    "AT": (FormatSpec("AT", "AT", ("L{1,2}N{1,5}L{1,3}",), max_len=8),),
    # Canton (2 letters) then 1-6 digits.
    "CH": (FormatSpec("CH", "CH", ("LLN{1,6}",)),),
    # ABC 123, and since 2019 ABC 12A.
    "SE": (FormatSpec("SE", "SE", ("LLLNNN", "LLLNNL")),),
    # AB 12345 (EL, EK, EV... on electric cars: the same shape).
    "NO": (FormatSpec("NO", "NO", ("LLNNNNN",)),),
    # AB 12 345.
    "DK": (FormatSpec("DK", "DK", ("LLNNNNN",)),),
    # ABC-123 (also 2-3 letters, 1-3 digits).
    "FI": (FormatSpec("FI", "FI", ("L{2,3}N{1,3}",)),),
    # Year (2-3 digits), county (1-2 letters), sequence (1-6 digits): 191-D-12345.
    "IE": (FormatSpec("IE", "IE", ("N{2,3}L{1,2}N{1,6}",), max_len=10),),
    # 1A2 3456 (region letter in the 2nd place; 3rd place letter or digit).
    "CZ": (FormatSpec("CZ", "CZ", ("NLANNNN",)),),
    # BA-123AB.
    "SK": (FormatSpec("SK", "SK", ("LLNNNLL",)),),
    # 2022-: AA-AA-123; -2022: ABC-123.
    "HU": (FormatSpec("HU", "HU", ("LLLLNNN", "LLLNNN")),),
    # B 123 ABC, CJ 12 ABC.
    "RO": (FormatSpec("RO", "RO", ("LN{2,3}LLL", "LLNNLLL")),),
    # CA 1234 AB, C 1234 AB.
    "BG": (FormatSpec("BG", "BG", ("L{1,2}NNNNL{1,2}",)),),
    # ZG 1234-AB, ZG 123-A.
    "HR": (FormatSpec("HR", "HR", ("LLN{3,4}L{1,2}",)),),
    # LJ 12-34A: area code, then five letters or digits.
    "SI": (FormatSpec("SI", "SI", ("LLA{4,5}",)),),
    # ABC-1234 (Greek letters that look Latin).
    "GR": (FormatSpec("GR", "GR", ("LLLNNNN",)),),
    # ABC 123.
    "LT": (FormatSpec("LT", "LT", ("LLLNNN",)),),
    # AB-1234.
    "LV": (FormatSpec("LV", "LV", ("LLN{1,4}",)),),
    # 123 ABC.
    "EE": (FormatSpec("EE", "EE", ("NNNLLL",)),),
    # AB 1234, 123456.
    "LU": (FormatSpec("LU", "LU", ("LLNNNN", "N{4,6}")),),
    # ABC 123.
    "MT": (FormatSpec("MT", "MT", ("LLLNNN",)),),
    # ABC 123.
    "CY": (FormatSpec("CY", "CY", ("LLLNNN",)),),
}

# Canada, by province (ISO 3166-2 CA-XX); the province's current and recent series.
_CANADA: tuple[FormatSpec, ...] = (
    _spec("CA-ON", "LLLLNNN", "LLLNNN"),  # ABCD 123, ABC 123
    _spec("CA-QC", "LNNLLL", "NNNLLL", "LLLNNN"),  # A12 BCD, 123 ABC
    _spec("CA-BC", "LLNNNL", "LLLNNN", "NNNLLL"),  # AB1 23C, ABC 123
    _spec("CA-AB", "LLLNNNN", "LLLNNN"),  # ABC-1234
    _spec("CA-MB", "LLLNNN"),
    _spec("CA-SK", "NNNLLL"),
    _spec("CA-NS", "LLLNNN"),
    _spec("CA-NB", "LLLNNN"),
    _spec("CA-NL", "LLLNNN"),
    _spec("CA-PE", "LNNNN", "LLLNNN"),
)

_OTHER: dict[str, tuple[FormatSpec, ...]] = {
    # Mercosur (2018-): ABC1D23; older: ABC1234.
    "BR": (FormatSpec("BR", "BR", ("LLLNLNN",), share=0.4), FormatSpec("BR-old", "BR", ("LLLNNNN",), share=0.6)),
    # Mercosur (2016-): AB 123 CD; older: ABC 123.
    "AR": (FormatSpec("AR", "AR", ("LLNNNLL",), share=0.4), FormatSpec("AR-old", "AR", ("LLLNNN",), share=0.6)),
    # NOM-001 private cars: ABC-123-D, and the older ABC-12-34 and 123-ABC series.
    "MX": (
        FormatSpec("MX", "MX", ("LLLNNNL", "LLLNNNN"), share=0.85),
        FormatSpec("MX-old", "MX", ("NNNLLL",), share=0.15),
    ),
    # State (2 letters), district (1-2 digits), series (0-3 letters), number (1-4 digits):
    # MH 12 AB 1234; Bharat series: 22 BH 1234 AA.
    "IN": (
        FormatSpec("IN", "IN", ("LLN{1,2}L{0,3}N{1,4}",), max_len=10, share=0.99),
        FormatSpec("IN-BH", "IN", ("NNLLNNNNL{1,2}",), share=0.01),
    ),
    # Province series: LEA 1234, ABC 123, IDC 12.
    "PK": (FormatSpec("PK", "PK", ("L{2,3}N{2,4}",)),),
}

# Australia, by state or territory (ISO 3166-2 AU-XX).
_AUSTRALIA: tuple[FormatSpec, ...] = (
    _spec("AU-NSW", "LLLNNL", "LLLNNN"),  # ABC12D, ABC123
    _spec("AU-VIC", "NLLNLL", "LLLNNN"),  # 1AB2CD, ABC123
    _spec("AU-QLD", "NNNLLL", "NNNLLN"),  # 123ABC, 123AB4
    _spec("AU-WA", "NLLLNNN"),  # 1ABC234
    _spec("AU-SA", "LNNNLLL", "LLLNNN"),  # S123ABC
    _spec("AU-TAS", "LNNLL", "LLNNLL"),  # A12BC
    _spec("AU-ACT", "LLLNNL", "LLLNNN"),  # YAB12C
    _spec("AU-NT", "LLNNLL", "NNNNNN"),  # CA12BC
)

#: Preset name -> the formats it enables.
PRESETS: dict[str, tuple[FormatSpec, ...]] = {
    "US": (*_US_STATES, _US_GENERIC),
    **{s.name: (s,) for s in _US_STATES},
    "EU": tuple(itertools.chain.from_iterable(_EUROPE.values())),
    **_EUROPE,
    "CA": _CANADA,
    **{s.name: (s,) for s in _CANADA},
    "AU": _AUSTRALIA,
    **{s.name: (s,) for s in _AUSTRALIA},
    **_OTHER,
}
#: Every preset: the formats of every country above.
PRESETS["ALL"] = tuple(dict.fromkeys(itertools.chain.from_iterable(PRESETS.values())))


def preset_formats(names: tuple[str, ...] | list[str]) -> tuple[FormatSpec, ...]:
    """The formats of the named presets, each once, in a stable order.

    Raises ``ValueError`` naming the unknown preset and the known ones.
    """
    seen: dict[str, FormatSpec] = {}
    for name in names:
        if name not in PRESETS:
            known = ", ".join(sorted(PRESETS))
            raise ValueError(f"flow.plates.presets: unknown preset {name!r}; known: {known}")
        for spec in PRESETS[name]:
            seen.setdefault(spec.name, spec)
    return tuple(seen.values())
