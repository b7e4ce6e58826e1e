"""How likely each enabled format is before a plate is read: the prior of the region of a read.

A string such as ``12ABC3`` fits a Dutch sidecode, and ``1ABC23`` fits Dutch, Maryland and
Massachusetts formats. The string alone cannot say which; how many vehicles carry each format
can. A format's *mass* is the number of vehicles (millions) that carry its plates:

    mass(f) = vehicles(country) * share of its subdivision (US state ...) * share of f there

and one string of one of its shapes carries ``mass(f) / shapes(f)`` times the chance of each of
its characters in its class: ``1/26`` for a letter (``L``), ``1/10`` for a digit (``N``), one of
the consonants for ``C``; an ``A`` position (letter or digit) of a plate format is mostly a digit
(:data:`EITHER_DIGIT`: Polish ``WX 1234A``, Slovenian ``LJ 12-34A``), one of a catch-all (the
generic US pattern: vanity plates) any of the 36. The region of a read is then the country
holding a clear majority of the mass of the formats that fit it (:class:`RegionPrior`, used by
:class:`operators.validate.PlateValidator`).

A site's own mix of countries, learned from its reads, weighs them further
(:mod:`operators.traffic_mix`).

The figures are rounded registered road-vehicle counts (motorcycles and trucks included) and
2020 populations for subdivisions: they only need to be right within a factor of about two,
and a region missing here counts :data:`UNKNOWN_VEHICLES`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from operators.normalise import CLASS_CHARS
from operators.plate_formats import FormatSpec, expand_template

__all__ = [
    "EITHER_DIGIT",
    "FOREIGN_FLOOR",
    "HOME_SHARE",
    "SUBDIVISION_MIN_SHARE",
    "SUBDIVISION_WEIGHT",
    "UNKNOWN_VEHICLES",
    "VEHICLES",
    "RegionGuess",
    "RegionPrior",
    "combine_scales",
    "country_of",
    "format_masses",
    "mix_scales",
]

#: Registered road vehicles per country, millions, rounded (public registries, early 2020s).
VEHICLES: dict[str, float] = {
    "US": 290, "BR": 115, "PK": 33, "IN": 330, "MX": 50, "CA": 26, "AR": 15, "AU": 21,
    "DE": 60, "IT": 53, "FR": 45, "GB": 41, "ES": 35, "PL": 33, "NL": 11, "RO": 10, "GR": 9,
    "CZ": 8, "BE": 7.5, "AT": 7.5, "PT": 7, "CH": 6.5, "SE": 6.3, "FI": 5.5, "HU": 5,
    "BG": 4.5, "NO": 4, "DK": 3.5, "SK": 3, "IE": 2.8, "HR": 2.3, "LT": 1.8, "SI": 1.5,
    "EE": 1, "LV": 0.9, "CY": 0.7, "LU": 0.5, "MT": 0.4,
}  # fmt: skip

#: Relative size of subdivisions within their country (2020 population, millions).
SUBDIVISION_WEIGHT: dict[str, float] = {
    "US-AL": 5.0, "US-AK": 0.73, "US-AZ": 7.2, "US-AR": 3.0, "US-CA": 39.5, "US-CO": 5.8,
    "US-CT": 3.6, "US-DE": 1.0, "US-DC": 0.69, "US-FL": 21.5, "US-GA": 10.7, "US-HI": 1.46,
    "US-ID": 1.84, "US-IL": 12.8, "US-IN": 6.8, "US-IA": 3.2, "US-KS": 2.9, "US-KY": 4.5,
    "US-LA": 4.66, "US-ME": 1.36, "US-MD": 6.2, "US-MA": 7.0, "US-MI": 10.1, "US-MN": 5.7,
    "US-MS": 2.96, "US-MO": 6.15, "US-MT": 1.08, "US-NE": 1.96, "US-NV": 3.1, "US-NH": 1.38,
    "US-NJ": 9.3, "US-NM": 2.1, "US-NY": 20.2, "US-NC": 10.4, "US-ND": 0.78, "US-OH": 11.8,
    "US-OK": 3.96, "US-OR": 4.24, "US-PA": 13.0, "US-RI": 1.1, "US-SC": 5.1, "US-SD": 0.89,
    "US-TN": 6.9, "US-TX": 29.1, "US-UT": 3.27, "US-VT": 0.64, "US-VA": 8.6, "US-WA": 7.7,
    "US-WV": 1.79, "US-WI": 5.9, "US-WY": 0.58,
    "CA-ON": 14.7, "CA-QC": 8.6, "CA-BC": 5.1, "CA-AB": 4.4, "CA-MB": 1.4, "CA-SK": 1.2,
    "CA-NS": 1.0, "CA-NB": 0.8, "CA-NL": 0.5, "CA-PE": 0.16,
    "AU-NSW": 8.2, "AU-VIC": 6.7, "AU-QLD": 5.2, "AU-WA": 2.7, "AU-SA": 1.8, "AU-TAS": 0.54,
    "AU-ACT": 0.43, "AU-NT": 0.25,
}  # fmt: skip

#: Vehicles (millions) of a region not in :data:`VEHICLES` (a custom format's ``XX``).
UNKNOWN_VEHICLES = 1.0
#: Share of the traffic that the site's own country (``flow.plates.default_region``) is taken to be.
HOME_SHARE = 0.95
#: Chance that an ``A`` position (letter or digit) of a plate format, not a catch-all, holds a digit.
EITHER_DIGIT = 0.8
#: Share of its country's mass a subdivision needs to be the region (``US-CA`` rather than ``US``):
#: on the 746 us-plates-ocr labels with the US presets, 0.6 names the own state of 128 and another
#: of 98, 0.8 of 124 and 70 (the best-scored format alone, before: 105 and 80).
SUBDIVISION_MIN_SHARE = 0.8
#: Least share of the traffic left to the countries outside a traffic mix (:func:`mix_scales`).
FOREIGN_FLOOR = 0.01


def country_of(region: str) -> str:
    """``US-CA`` -> ``US``."""
    return region.split("-", 1)[0]


def format_masses(formats: Iterable[FormatSpec]) -> dict[str, float]:
    """Millions of vehicles that carry each format's plates (keyed by format name), among the
    given formats: a country-wide format with a ``share`` takes that part of its country's
    vehicles; the rest is split over the country's subdivisions by weight (its country-wide
    formats without a share count as one more subdivision of mean weight), then equally over
    each one's formats."""
    by_country: dict[str, dict[str, list[FormatSpec]]] = defaultdict(lambda: defaultdict(list))
    for spec in formats:
        if spec.region is not None:
            by_country[country_of(spec.region)][spec.region].append(spec)
    masses: dict[str, float] = {}
    for country, regions in by_country.items():
        total = VEHICLES.get(country, UNKNOWN_VEHICLES)
        own = regions.get(country, [])
        # Shared country-wide formats (the generic US pattern) first; subdivisions and the
        # country's formats without a share split the rest, by weight.
        rest = total * max(0.0, 1.0 - sum(s.share for s in own if s.share is not None))
        for spec in own:
            if spec.share is not None:
                masses[spec.name] = total * spec.share
        groups: dict[str, list[FormatSpec]] = {r: specs for r, specs in regions.items() if r != country}
        subdivision = [SUBDIVISION_WEIGHT.get(r, 1.0) for r in groups]
        mean = sum(subdivision) / len(subdivision) if subdivision else 1.0
        weights = dict(zip(groups, subdivision, strict=True))
        unshared = [s for s in own if s.share is None]
        if unshared:
            groups[country] = unshared
            weights[country] = mean
        whole = sum(weights.values())
        for region, specs in groups.items():
            for spec in specs:  # a subdivision's formats (or the country's unshared ones) equally
                masses[spec.name] = rest * weights[region] / whole / len(specs)
    return masses


def combine_scales(*scales: Mapping[str, float] | None) -> dict[str, float]:
    """Factors of several sources of evidence on each country, multiplied (a country missing
    from one keeps its factor of the others)."""
    out: dict[str, float] = {}
    for factors in scales:
        for country, factor in (factors or {}).items():
            out[country] = out.get(country, 1.0) * factor
    return out


def mix_scales(country_mass: Mapping[str, float], mix: Mapping[str, float]) -> dict[str, float]:
    """Factors on each country's mass that make a traffic ``mix`` of it (``{"NL": 0.95}``: the
    Dutch formats weigh 95% of all, the other countries the rest, in their own proportions);
    countries without a factor keep theirs. ``country_mass``: the enabled formats' mass per country.

    Shares of countries with no mass are dropped; shares summing to one or more are cut to leave
    :data:`FOREIGN_FLOOR` to the rest; a mix of every country is taken as proportions. Empty
    when the mix names no country with mass."""
    shares = {c: s for c, s in mix.items() if s > 0 and country_mass.get(c, 0.0) > 0}
    foreign = sum(m for c, m in country_mass.items() if c not in shares)
    if not shares:
        return {}
    if foreign <= 0:  # the mix names every country: its shares, as proportions
        total, mass = sum(shares.values()), sum(country_mass[c] for c in shares)
        return {c: s / total * mass / country_mass[c] for c, s in shares.items()}
    total = sum(shares.values())
    if total > 1 - FOREIGN_FLOOR:
        shares = {c: s / total * (1 - FOREIGN_FLOOR) for c, s in shares.items()}
        total = 1 - FOREIGN_FLOOR
    # The countries outside the mix keep ``foreign`` as their mass: scale the mix's to match.
    return {c: s / (1 - total) * foreign / country_mass[c] for c, s in shares.items()}


@dataclass(slots=True, frozen=True)
class RegionGuess:
    """The region of a plate (None: no clear majority), the likeliest format that holds it (in
    that region when there is one), that format's class string, and the region's share of the
    mass of every format that holds the plate."""

    region: str | None
    format_name: str
    classes: str
    share: float


@dataclass(slots=True, frozen=True)
class _Holder:
    classes: str
    name: str
    region: str
    mass: float  # of this shape
    catch_all: bool
    country: str  # of region

    def chance(self, plate: str) -> float:
        """Mass of ``plate``, a string this shape holds: the shape's mass times each character's chance."""
        p = self.mass
        for c, k in zip(plate, self.classes, strict=True):
            if k != "A":
                p /= len(CLASS_CHARS[k])
            elif self.catch_all:
                p /= 36
            else:
                p *= EITHER_DIGIT / 10 if c.isdigit() else (1 - EITHER_DIGIT) / 26
        return p


def _likeliest(scored: list[tuple[float, _Holder]]) -> _Holder:
    """The holder of the most mass (ties: the format name that sorts last, deterministic)."""
    return max(scored, key=lambda mh: (mh[0], mh[1].name))[1]


def _weigh(scored: Iterable[tuple[float, _Holder]], scales: Mapping[str, float] | None) -> list[tuple[float, _Holder]]:
    """Each holder's mass of a plate, times its country's factor in ``scales``."""
    if not scales:
        return list(scored)
    return [(m * scales.get(h.country, 1.0), h) for m, h in scored]


def _by_country(scored: list[tuple[float, _Holder]]) -> dict[str, float]:
    by_country: dict[str, float] = defaultdict(float)
    for m, h in scored:
        by_country[h.country] += m
    return by_country


class RegionPrior:
    """The region of a plate from the formats that hold it exactly, weighed by :func:`format_masses`.

    The country holding at least ``min_share`` of the mass is the region; within it, a
    subdivision (US state) holding :data:`SUBDIVISION_MIN_SHARE` of the country's mass is. A
    catch-all format (the generic US pattern, any string of its lengths) says nothing of the
    country while other countries are enabled: a string that only it holds gets a region only
    when the enabled formats are all of its country (a site that names it).

    ``default_region`` is the site's own country (or subdivision): its formats weigh as
    :data:`HOME_SHARE` of the traffic, the other countries' the rest, so that a string its formats
    and a large foreign country's hold alike is local; and it is the answer when no country has
    the majority (or no subdivision of its country does) and its country holds the plate. Without
    it, a site's mix learned from its own reads (:mod:`operators.traffic_mix`) weighs the
    countries the same way, per guess (:meth:`scales`).
    """

    __slots__ = ("_by_length", "_country_mass", "_default", "_min_share", "_scored", "_single")

    def __init__(self, formats: Iterable[FormatSpec], min_share: float = 0.6, default_region: str | None = None):
        if not 0.5 <= min_share <= 1.0:
            raise ValueError(f"RegionPrior: min_share {min_share} must be within 0.5 and 1")
        regional = [(f, f.region) for f in formats if f.region is not None]
        masses = format_masses(f for f, _ in regional)
        country_mass: dict[str, float] = defaultdict(float)
        for spec, region in regional:
            country_mass[country_of(region)] += masses.get(spec.name, 0.0)
        if default_region is not None:
            home = mix_scales(country_mass, {country_of(default_region): HOME_SHARE})
            masses = {f.name: masses.get(f.name, 0.0) * home.get(country_of(r), 1.0) for f, r in regional}
            country_mass = {c: m * home.get(c, 1.0) for c, m in country_mass.items()}
        self._country_mass = dict(country_mass)
        by_length: dict[int, list[_Holder]] = defaultdict(list)
        for spec, region in regional:
            shapes = {c for t in spec.templates for c in expand_template(t, spec.max_len)}
            for classes in shapes:
                mass = masses.get(spec.name, 0.0) / len(shapes)
                by_length[len(classes)].append(
                    _Holder(classes, spec.name, region, mass, spec.weight is not None, country_of(region))
                )
        self._by_length = {n: tuple(v) for n, v in by_length.items()}
        self._min_share = min_share
        self._default = default_region
        countries = {country_of(region) for _, region in regional}
        self._single = countries.pop() if len(countries) == 1 else None
        # Plates recur, and a site's mix changes with every read: the holders of a plate and
        # their masses are kept, each guess only weighs them again.
        self._scored = lru_cache(maxsize=16384)(self._score)

    @property
    def country_names(self) -> tuple[str, ...]:
        """The countries of the enabled formats, sorted."""
        return tuple(sorted(self._country_mass))

    def countries(self, plate: str, scales: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each country's share of the mass of the formats that hold ``plate`` (as :meth:`guess`
        weighs them, under ``scales`` if given); empty when none does, or only a catch-all."""
        scored = self._scored(plate)
        if all(h.catch_all for _, h in scored):
            return {}
        by_country = _by_country(_weigh(scored, scales))
        total = sum(by_country.values())
        return {c: m / total for c, m in by_country.items()} if total > 0 else {}

    def scales(self, mix: Mapping[str, float]) -> dict[str, float]:
        """Factors on each country's formats (for :meth:`guess`) that make the traffic ``mix``
        ({country: share}, e.g. a site's learned mix, :mod:`operators.traffic_mix`)."""
        return mix_scales(self._country_mass, mix)

    def guess(
        self, plate: str, scales: Mapping[str, float] | None = None, evidence: Mapping[str, float] | None = None
    ) -> RegionGuess | None:
        """The region of ``plate`` (compact), or None when no enabled format holds it.

        ``scales`` (:meth:`scales` of a traffic mix) weigh each country's formats; a string only
        a catch-all holds is then of the catch-all's country where that country has at least
        ``min_share`` of the mix (the generic US pattern at a site of mostly US plates), and so
        is one that other countries' formats hold too, unless ``evidence`` favours one of them
        (:meth:`_site_country`).
        ``evidence``: factors of what this read's crop showed (:mod:`operators.plate_band`),
        weighing the formats that hold the plate, not the site's mix."""
        unscaled = self._scored(plate)
        if not unscaled:
            return None
        if all(h.catch_all for _, h in unscaled):  # only a catch-all holds it: any plate of the world would
            holders = [h for _, h in unscaled]
            top = max(holders, key=lambda h: h.mass)
            single = self._single is not None and country_of(top.region) == self._single
            if single:
                return RegionGuess(top.region, top.name, top.classes, 1.0)
            dominant = self._dominant(scales) if scales else None
            if dominant is not None and dominant[0] == top.country:  # the catch-all's own country
                return RegionGuess(dominant[0], top.name, top.classes, dominant[1])
            return RegionGuess(self._fallback({country_of(h.region) for h in holders}), top.name, top.classes, 0.0)
        scored = _weigh(unscaled, combine_scales(scales, evidence) or None)
        total = sum(m for m, _ in scored)
        by_country = _by_country(scored)
        country, mass = max(by_country.items(), key=lambda kv: (kv[1], kv[0]))
        share = mass / total if total > 0 else 0.0
        site = self._site_country(unscaled, scales, evidence)
        if site is not None and (site[0] != country or share < self._min_share):
            country, share = site  # a string its generic pattern holds, at a site of mostly its plates
            mass = by_country[country]
        elif share < self._min_share:
            top = _likeliest(scored)
            return RegionGuess(self._fallback(set(by_country)), top.name, top.classes, share)
        mine = [(m, h) for m, h in scored if country_of(h.region) == country]
        top = _likeliest(mine)
        by_region: dict[str, float] = defaultdict(float)
        for m, h in mine:
            if h.region != country:
                by_region[h.region] += m
        region = country
        if by_region:
            sub, sub_mass = max(by_region.items(), key=lambda kv: (kv[1], kv[0]))
            if mass > 0 and sub_mass / mass >= SUBDIVISION_MIN_SHARE:
                region = sub
                top = _likeliest([(m, h) for m, h in mine if h.region == sub])
        if region == country and self._default is not None and country_of(self._default) == country:
            region = self._default  # the site's own state among its country's
        return RegionGuess(region, top.name, top.classes, share)

    def _score(self, plate: str) -> tuple[tuple[float, _Holder], ...]:
        """Each format shape that holds ``plate``, with its mass of it (unscaled)."""
        return tuple(
            (h.chance(plate), h)
            for h in self._by_length.get(len(plate), ())
            if all(c in CLASS_CHARS[k] for c, k in zip(plate, h.classes, strict=True))
        )

    def _site_country(
        self,
        scored: tuple[tuple[float, _Holder], ...],
        scales: Mapping[str, float] | None,
        evidence: Mapping[str, float] | None,
    ) -> tuple[str, float] | None:
        """The site's dominant country (:meth:`_dominant` under its mix ``scales``) and its share
        of the traffic, where its catch-all holds ``scored``'s plate and what the crop showed
        (``evidence``) favours no other country over it; None otherwise. A catch-all spreads its
        country's vanity plates over every string of its lengths, so one string of it weighs next
        to nothing against a foreign format's; but at a site of mostly American plates a string
        that a foreign format holds and the generic US pattern too (``CCLVN3``, a German series
        and a US plate of no listed series) is American far more often than a visitor. A site
        that names its country (``default_region``) is not weighed so: its visitors keep the
        regions of their own series, as documented for that setting."""
        if not scales:
            return None
        dominant = self._dominant(scales)
        if dominant is None or not any(h.catch_all and h.country == dominant[0] for _, h in scored):
            return None
        if evidence:
            own = evidence.get(dominant[0], 1.0)
            if any(evidence.get(h.country, 1.0) > own for _, h in scored):
                return None
        return dominant

    def _dominant(self, scales: Mapping[str, float]) -> tuple[str, float] | None:
        """The country with at least ``min_share`` of the traffic under ``scales``, and its share."""
        weighed = {c: m * scales.get(c, 1.0) for c, m in self._country_mass.items()}
        total = sum(weighed.values())
        if total <= 0:
            return None
        country, mass = max(weighed.items(), key=lambda kv: (kv[1], kv[0]))
        return (country, mass / total) if mass / total >= self._min_share else None

    def _fallback(self, countries: set[str]) -> str | None:
        """``default_region`` when its country is among ``countries``, else None."""
        default = self._default
        return default if default is not None and country_of(default) in countries else None
