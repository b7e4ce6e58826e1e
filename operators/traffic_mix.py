"""Each site's mix of countries, learned from its own reads: the prior of the region of its next read.

A string such as ``1ABC123`` fits a Californian and a Belgian plate; ``ABC1234`` a plate of a
dozen US states and an old Brazilian one. :class:`operators.region_prior.RegionPrior` weighs
them by how many vehicles carry each format world-wide, which is right for a site that could be
anywhere. But a site is somewhere: at a car park in Ohio nearly every plate is American, and
its reads say so without anyone setting ``default_region``: many of them fit one country's
formats only (``FGJ2350`` is held by no format outside the US), with a clear majority.

:class:`Traffic` counts, per site, the reads that some plate format holds and, among them, those
that one country holds with at least ``flow.plates.region_min_share`` of the world-wide weight
(decided without the learned mix, so that a guess never feeds itself). Its :meth:`Traffic.mix`
is each such country's share of the reads, with :data:`LEARN_WEIGHT` reads' worth left to the
world-wide weights (a site's first read is guessed as before); the reads no country clearly holds
count in the total, so a country never decided (Belgium against California) keeps its world-wide
share rather than being crowded out by the ones that are. :func:`learn_region` is the pure step:
``(Traffic | None, PlateRead) -> (Traffic, PlateRead)``, the read's region guessed again under
the site's mix (:meth:`operators.region_prior.RegionPrior.guess` with its ``scales``);
:func:`learn_plate` the same on a plate string (``alpr eval`` reads a folder as one site).

A site (or camera) whose settings name its country (``default_region``) is not learned: the
setting says more than any count. Custom formats keep their own region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from operators.plate_band import Band
from operators.records import PlateRead, RecordError

if TYPE_CHECKING:
    from operators.validate import PlateValidator, ScopedValidator

__all__ = ["LEARN_WEIGHT", "Traffic", "learn_plate", "learn_region", "observe"]

#: Reads' worth of the world-wide weights in a site's mix. Chosen on the us-plates-ocr train
#: split's labels read as one site (region right 0.650 without learning; 0.878 with 1 or 2,
#: 0.872 with 5, 0.862 with 10, 0.844 with 20) and on strings drawn from each of 32 countries'
#: formats, one site per country and one site of them all (fewer wrong countries than without
#: learning at every weight tried, 2 to 50).
LEARN_WEIGHT = 2.0


@dataclass(frozen=True, slots=True)
class Traffic:
    """What a site's reads said of their countries so far.

    ``reads``: reads that some plate format (not only a catch-all) holds; ``countries``:
    ``(country, reads)`` pairs, sorted, of those one country held with a clear majority.
    """

    reads: int = 0
    countries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        decided = sum(n for _, n in self.countries)
        if self.reads < 0 or decided > self.reads or any(n <= 0 for _, n in self.countries):
            raise RecordError(f"Traffic: counts {self.countries} do not fit within {self.reads} reads")

    def mix(self) -> dict[str, float]:
        """Each counted country's share of the traffic ({} before any read); the rest, at
        least :data:`LEARN_WEIGHT` reads' worth, is left to the world-wide weights."""
        total = self.reads + LEARN_WEIGHT
        return {c: n / total for c, n in self.countries}

    def leader(self) -> tuple[str, float] | None:
        """The country with the largest share of the mix, and its share; None before any."""
        mix = self.mix()
        return max(mix.items(), key=lambda kv: (kv[1], kv[0])) if mix else None


def observe(traffic: Traffic | None, shares: Mapping[str, float], min_share: float) -> Traffic:
    """``traffic`` with one more read whose countries weigh ``shares`` (world-wide weights,
    :meth:`operators.region_prior.RegionPrior.countries`; empty: no format holds it, not counted)."""
    traffic = traffic or Traffic()
    if not shares:
        return traffic
    country, share = max(shares.items(), key=lambda kv: (kv[1], kv[0]))
    counts = dict(traffic.countries)
    if share >= min_share:
        counts[country] = counts.get(country, 0) + 1
    return Traffic(traffic.reads + 1, tuple(sorted(counts.items())))


def learn_plate(
    validator: PlateValidator,
    traffic: Traffic | None,
    plate: str,
    region: str | None,
    format_name: str,
    band: Band = Band.UNKNOWN,
) -> tuple[Traffic | None, str | None, str]:
    """``(traffic, region, format_name)`` of a written ``plate`` matched as ``format_name`` (in
    ``region``): the region and format guessed again under the site's ``traffic`` and what the
    crop showed of a European ``band`` (:mod:`operators.plate_band`), and the traffic with this
    read counted (the band weighs that too: it is this read's own evidence, not a guess). A
    validator that does not learn (its scope names its country) and a custom format leave all
    three as they are."""
    if not plate or not validator.learns or validator.is_custom(format_name):
        return traffic, region, format_name
    guess = validator.guess(plate, traffic.mix() if traffic is not None else None, band)
    if guess is not None:
        region, format_name = guess.region, guess.format_name
    shares = validator.countries(plate, band)
    return observe(traffic, shares, validator.region_min_share), region, format_name


def learn_region(
    validators: ScopedValidator, traffic: Traffic | None, read: PlateRead, band: Band = Band.UNKNOWN
) -> tuple[Traffic | None, PlateRead]:
    """:func:`learn_plate` on a plate read, under the validator of its site or camera (a no-plate
    event passes as it is); ``band``: what its best crop showed (:func:`operators.plate_band.find_band`)."""
    validator = validators.validator(read.read.site, read.read.camera_id)
    traffic, region, format_name = learn_plate(validator, traffic, read.plate, read.region, read.format_name, band)
    if (region, format_name) != (read.region, read.format_name):
        read = replace(read, region=region, format_name=format_name)
    return traffic, read
