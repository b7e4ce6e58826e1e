"""Validating voted reads against plate formats, with a region guess.

:meth:`PlateValidator.validate` turns a :class:`TrackRead` into a :class:`PlateRead` (the
plate, normalised and confusion-fixed, its region and format) or a :class:`RejectedRead`
with the reason.

Ranking: each candidate format scores its specificity (one point per character with a
fixed class, 1.25 for a consonant-only one, minus log2 of the format's shapes of that
length, so loose variable-length formats score lower; catch-alls such as the generic US
pattern have a fixed weight) minus 2 per OCR confusion fixed (``O`` -> ``0`` where the
format wants a digit). So ``I234BCD`` becomes the Spanish ``1234BCD`` rather than
staying a generic US plate, and ``7ABCI23`` the Californian ``7ABC123``, while a vanity
``GOLF4U`` is left alone. Custom formats from the config always rank first.

Region guess (:class:`operators.region_prior.RegionPrior`): every enabled format that holds the
written plate, each weighed by how many vehicles carry it (the configured default region, the
sites' own country, as most of them); the country with at least ``flow.plates.region_min_share``
of that weight (and its subdivision, a US state, with 80% of the country's), else the default
region if its country is among them, else None. A catch-all (the generic US pattern) holds any
string, so it names a country only where the enabled formats are all of that country. A custom
format's match keeps its own region.

Region glyphs: where the best-scored formats' region (the ranking above) has glyph rules,
characters its plates print with one glyph are written one way (``flow.plates.region_glyphs``;
US: ``O`` as ``0``), at the positions where the matched format allows a letter or a digit (class
``A``); the written plate is then given its region as above. A format that wants a letter there
keeps the letter (``NOX218`` stays a ``LLLNNN`` plate), and a custom regex match is left as read.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from operators.normalise import Confusions, compact
from operators.plate_band import Band, band_scales
from operators.plate_formats import FormatSpec, expand_template, preset_formats
from operators.plate_scopes import Scoped
from operators.records import PlateRead, RejectedRead, RejectReason, TrackRead
from operators.region_prior import RegionGuess, RegionPrior, country_of

if TYPE_CHECKING:
    from config.flow import PlateRulesSettings

__all__ = ["PlateMatch", "PlateValidator", "ScopedValidator"]

_CLASS_WEIGHT = {"L": 1.0, "N": 1.0, "C": 1.25, "A": 0.0, "K": 1.0, "D": 1.0}
_FIX_PENALTY = 2.0
_CUSTOM_BONUS = 100.0


@dataclass(slots=True, frozen=True)
class PlateMatch:
    """A plate that fits a format: the (fixed) plate, region guess, format name, fixes made."""

    plate: str
    region: str | None
    format_name: str
    fixes: int = 0


@dataclass(slots=True, frozen=True)
class _Shape:
    """One class string and the formats it belongs to (all share its length).

    ``letters`` has bit i set where the class of character i is a letter class (``L``,
    ``C`` or ``K``); ``loose`` shapes contain ``A`` and skip the bit-mask prefilter.
    """

    classes: str
    score: float
    formats: tuple[tuple[str, str | None], ...]  # (format name, region)
    letters: int
    loose: bool


def _country(region: str | None) -> str | None:
    """``US`` of ``US-CA``; a country stays itself; None stays None."""
    return None if region is None else country_of(region)


class PlateValidator:
    """Compiled formats and rules; build once (:meth:`from_settings`), call per read."""

    __slots__ = (
        "_by_length",
        "_confusions",
        "_custom",
        "_default_region",
        "_glyphs",
        "_learns",
        "_match_cached",
        "_max_fixes",
        "_min_share",
        "_prior",
        "_regexes",
        "_rules",
        "_by_band",
        "_sees_band",
    )

    def __init__(
        self,
        formats: Iterable[FormatSpec],
        confusions: Confusions,
        *,
        regexes: Iterable[tuple[str, str | None, str]] = (),
        custom_formats: Iterable[FormatSpec] = (),
        default_region: str | None = None,
        min_confidence: float = 0.0,
        min_length: int = 2,
        max_length: int = 10,
        max_fixes: int = 2,
        region_glyphs: dict[str, dict[str, str]] | None = None,
        region_min_share: float = 0.6,
        learn_region: bool = True,
        region_band: bool = True,
    ) -> None:
        """``regexes`` are custom ``(name, region, regex)``; ``custom_formats`` rank above presets;
        ``region_glyphs`` maps a country or region to ``{read: written}`` characters;
        ``learn_region``: a site's reads may weigh its countries (:mod:`operators.traffic_mix`),
        unless ``default_region`` names its country; ``region_band``: and the European band seen
        in a read's crop does (:mod:`operators.plate_band`)."""
        if min_length > max_length:
            raise ValueError(f"PlateValidator: min_length {min_length} is above max_length {max_length}")
        formats = tuple(formats)
        custom_formats = tuple(custom_formats)
        self._prior = RegionPrior(formats, region_min_share, default_region)
        self._min_share = region_min_share
        self._learns = learn_region and default_region is None
        self._sees_band = self._learns and region_band
        self._by_band = (
            {b: band_scales(b, self._prior.country_names) for b in (Band.PRESENT, Band.ABSENT)}
            if self._sees_band
            else {}
        )
        self._custom = frozenset(spec.name for spec in custom_formats) | {name for name, _, _ in regexes}
        shapes: dict[str, dict[tuple[str, str | None], float]] = {}
        for bonus, specs in ((0.0, formats), (_CUSTOM_BONUS, custom_formats)):
            for spec in specs:
                expanded = {c for t in spec.templates for c in expand_template(t, spec.max_len)}
                per_length = Counter(len(c) for c in expanded)
                for classes in expanded:
                    # A format with many shapes of one length (variable-length parts) is
                    # less specific: each doubling of its shapes costs one class position.
                    if spec.weight is not None:
                        score = bonus + spec.weight
                    else:
                        score = bonus + sum(_CLASS_WEIGHT[k] for k in classes) - math.log2(per_length[len(classes)])
                    per = shapes.setdefault(classes, {})
                    key = (spec.name, spec.region)
                    per[key] = max(score, per.get(key, float("-inf")))
        by_length: dict[int, list[_Shape]] = {}
        for classes, per in shapes.items():
            # A class string shared by formats of different weight (custom vs preset) is
            # split so each keeps its own score.
            for score in sorted(set(per.values()), reverse=True):
                fmts = tuple(sorted(k for k, v in per.items() if v == score))
                letters = sum(1 << i for i, k in enumerate(classes) if k in "LCK")
                shape = _Shape(classes, score, fmts, letters, "A" in classes)
                by_length.setdefault(len(classes), []).append(shape)
        self._by_length = {n: tuple(sorted(v, key=lambda s: -s.score)) for n, v in by_length.items()}
        compiled = []
        for name, region, regex in regexes:
            try:
                compiled.append((name, region, re.compile(regex)))
            except re.error as exc:
                raise ValueError(f"custom plate format {name!r}: regex {regex!r} does not compile: {exc}") from exc
        self._regexes = tuple(compiled)
        self._confusions = confusions
        self._default_region = default_region
        self._max_fixes = max_fixes
        self._glyphs = {region: dict(rules) for region, rules in (region_glyphs or {}).items() if rules}
        self._rules = (min_confidence, min_length, max_length)
        # Plates recur (the same vehicle on several cameras, partial reads): memoise.
        self._match_cached = lru_cache(maxsize=16384)(self._match)

    @classmethod
    def from_settings(
        cls,
        rules: PlateRulesSettings,
        decoded: bool = False,
        presets: tuple[str, ...] | None = None,
        default_region: str | None = None,
    ) -> PlateValidator:
        """Build from the ``flow.plates`` settings; unknown presets raise ``ValueError``.

        ``decoded``: the reads were decoded under these formats already (``ocr.syntax``), which
        weighed the recogniser's evidence for each character: no confusion is fixed after the
        fact (on val, fixing after decoding lost 6 of 906 reads). ``presets`` / ``default_region``:
        instead of ``rules.presets`` / ``rules.default_region`` (a site's or camera's own,
        :mod:`operators.plate_scopes`)."""
        return cls(
            preset_formats(rules.presets if presets is None else presets),
            Confusions(rules.to_digit, rules.to_letter),
            regexes=[(f.name, f.region, f.regex) for f in rules.custom_formats if f.regex is not None],
            custom_formats=[
                FormatSpec(f.name, f.region, (f.template,)) for f in rules.custom_formats if f.template is not None
            ],
            default_region=rules.default_region if default_region is None else default_region,
            min_confidence=rules.min_confidence,
            min_length=rules.min_length,
            max_length=rules.max_length,
            max_fixes=0 if decoded else rules.max_fixes,
            region_glyphs=rules.region_glyphs,
            region_min_share=rules.region_min_share,
            learn_region=rules.learn_region,
            region_band=rules.region_band,
        )

    @property
    def learns(self) -> bool:
        """Whether a site's own mix of countries may weigh its reads' regions (no ``default_region``)."""
        return self._learns

    @property
    def sees_band(self) -> bool:
        """Whether the European band seen in a read's crop weighs its region (``flow.plates.region_band``,
        where the site's mix is learned)."""
        return self._sees_band

    @property
    def region_min_share(self) -> float:
        """Share of the weight a country needs to be a read's region (``flow.plates.region_min_share``)."""
        return self._min_share

    def is_custom(self, format_name: str) -> bool:
        """Whether ``format_name`` is a custom format (its matches keep the region it names)."""
        return format_name in self._custom

    def guess(
        self, plate: str, mix: Mapping[str, float] | None = None, band: Band = Band.UNKNOWN
    ) -> RegionGuess | None:
        """The region of ``plate`` (as written) under a site's traffic ``mix`` ({country: share},
        :meth:`operators.traffic_mix.Traffic.mix`; None or empty: the world-wide weights) and
        what its crop showed of a European band (:func:`operators.plate_band.find_band`)."""
        return self._prior.guess(plate, self._prior.scales(mix) if mix else None, self._band_scales(band) or None)

    def countries(self, plate: str, band: Band = Band.UNKNOWN) -> dict[str, float]:
        """Each country's share of the world-wide weight of the formats that hold ``plate``
        (weighed by what its crop showed of a European band, if anything)."""
        return self._prior.countries(plate, self._band_scales(band) or None)

    def _band_scales(self, band: Band) -> dict[str, float]:
        return self._by_band.get(band, {})

    def band_matters(self, plate: str) -> bool:
        """Whether what a crop shows of a European band could change the region of ``plate``:
        several countries' formats hold it. One country's alone, or only a catch-all (named by
        the site's mix alone), it cannot."""
        return self._sees_band and len(self._prior.countries(plate)) > 1

    def match(self, text: str) -> PlateMatch | None:
        """The best format match of ``text`` (compacted first), or None when nothing fits."""
        return self._match_cached(compact(text))

    def _match(self, plate: str) -> PlateMatch | None:
        for name, region, rx in self._regexes:
            if rx.fullmatch(plate) is not None:
                return PlateMatch(plate, region, name, 0)
        m = self._written_match(plate)
        if m is None or m.format_name in self._custom:
            return m
        # The plate as written, then its region: what every enabled format that holds it says,
        # weighed by how many vehicles carry each (operators.region_prior).
        guess = self._prior.guess(m.plate)
        return m if guess is None else PlateMatch(m.plate, guess.region, guess.format_name, m.fixes)

    def _written_match(self, plate: str) -> PlateMatch | None:
        """The best-scored fit of ``plate`` with its glyph rules applied (their region: the
        best-scored formats', as chosen on val; the reported region is :meth:`_match`'s)."""
        found = self._best(plate)
        if found is None:
            return None
        m, classes = found
        written = self._written(m.plate, classes, m.region)
        if written != m.plate:
            # The written plate must be a plate of its own: read again, it fits as it is, in the
            # same country, and no rule applies further (else the read stays as it is).
            again = self._best(written)
            if (
                again is not None
                and again[0].plate == written
                and again[0].fixes == 0
                and _country(again[0].region) == _country(m.region)
                and self._written(written, again[1], again[0].region) == written
            ):
                return PlateMatch(written, again[0].region, again[0].format_name, m.fixes)
        return m

    def _best(self, plate: str) -> tuple[PlateMatch, str] | None:
        """The best format fit of ``plate`` and the class string it fits, before glyph rules."""
        best_score = float("-inf")
        best: list[tuple[str, int, str, tuple[tuple[str, str | None], ...]]] = []
        fix = self._confusions.fix
        # Bit masks of the plate: letters, and characters a confusion rule can flip. A
        # shape needs every letter/digit mismatch to be flippable, and few of them.
        letters = flippable = 0
        to_digit, to_letter = self._confusions.to_digit, self._confusions.to_letter
        for i, c in enumerate(plate):
            if c.isalpha():
                letters |= 1 << i
                if c in to_digit:
                    flippable |= 1 << i
            elif c in to_letter:
                flippable |= 1 << i
        for shape in self._by_length.get(len(plate), ()):
            if shape.score < best_score:
                break  # shapes are sorted by score; fixes only lower it
            if not shape.loose:
                diff = letters ^ shape.letters
                if diff & ~flippable or diff.bit_count() > self._max_fixes:
                    continue
            fitted = fix(plate, shape.classes, self._max_fixes)
            if fitted is None:
                continue
            fixed, fixes = fitted
            score = shape.score - _FIX_PENALTY * fixes
            if score > best_score:
                best_score, best = score, [(fixed, fixes, shape.classes, shape.formats)]
            elif score == best_score:
                best.append((fixed, fixes, shape.classes, shape.formats))
        if not best:
            return None
        # Among equal scores prefer fewer fixes, then the smallest plate: deterministic.
        best.sort(key=lambda b: (b[1], b[0]))
        fixed, fixes, classes = best[0][0], best[0][1], best[0][2]
        formats = sorted({f for p, _, _, fmts in best if p == fixed for f in fmts})
        return PlateMatch(fixed, self._region(f[1] for f in formats), formats[0][0], fixes), classes

    def _written(self, plate: str, classes: str, region: str | None) -> str:
        """``plate`` with its region's glyph rules applied where ``classes`` allows either kind."""
        if region is None or not self._glyphs:
            return plate
        rules = {**self._glyphs.get(region.split("-", 1)[0], {}), **self._glyphs.get(region, {})}
        if not rules:
            return plate
        return "".join(rules.get(c, c) if k == "A" else c for c, k in zip(plate, classes, strict=True))

    def _region(self, regions: Iterable[str | None]) -> str | None:
        found = sorted({r for r in regions if r is not None})
        if len(found) <= 1:
            return found[0] if found else self._default_region
        countries = {_country(r) for r in found}
        if len(countries) == 1:
            return countries.pop()
        default = self._default_region
        if default is not None and (default in found or default in countries):
            return default
        return None

    def validate(self, read: TrackRead) -> PlateRead | RejectedRead:
        """Normalise and check one voted read; rejections carry the reason."""
        if read.best_crop.no_plate:  # a vehicle that passed without a plate: an event with no plate
            return PlateRead(read, "", "", None, "no_plate")
        min_confidence, min_length, max_length = self._rules
        plate = compact(read.text)
        reason: RejectReason | None = None
        if not plate:
            reason, detail = "empty", f"no letters or digits in {read.text!r}"
        elif len(plate) < min_length:
            reason, detail = "too_short", f"{plate!r} has {len(plate)} characters, below {min_length}"
        elif len(plate) > max_length:
            reason, detail = "too_long", f"{plate!r} has {len(plate)} characters, above {max_length}"
        elif read.confidence < min_confidence:
            reason, detail = "low_confidence", f"confidence {read.confidence:.3f} below {min_confidence}"
        else:
            m = self._match_cached(plate)
            if m is not None:
                return PlateRead(read, m.plate, read.text, m.region, m.format_name)
            reason, detail = "no_format_match", f"{plate!r} fits no enabled format"
        return RejectedRead(read, reason, detail)


class ScopedValidator:
    """A :class:`PlateValidator` per site and camera (``flow.plates.sites``, ``flow.plates.cameras``):
    each read is validated under the presets of the crop's camera, else its site, else the global ones.

    A read that fits none of its scope's formats is rejected as ``no_format_match`` (filed in
    ``rejected_reads``, never dropped) with no region, also where the scope names one country: the
    site's country is where the camera stands, not the plate's (a visiting car, a misread, a sign).
    """

    __slots__ = ("_validators",)

    def __init__(self, rules: PlateRulesSettings, decoded: bool = False) -> None:
        self._validators = Scoped(
            rules, lambda scope: PlateValidator.from_settings(rules, decoded, scope.presets, scope.default_region)
        )

    @property
    def learns(self) -> bool:
        """Whether any scope's validator learns its sites' mix of countries (:mod:`operators.traffic_mix`)."""
        return any(v.learns for v in self._validators.built)

    def validator(self, site: str | None, camera: str | None) -> PlateValidator:
        """The validator of a crop from ``camera`` at ``site``."""
        return self._validators.of(site, camera)

    def validate(self, read: TrackRead) -> PlateRead | RejectedRead:
        """:meth:`PlateValidator.validate` under the read's own site's or camera's formats."""
        return self._validators.of(read.site, read.camera_id).validate(read)
