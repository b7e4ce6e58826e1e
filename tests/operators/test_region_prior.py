"""The region of a read from the formats that hold it, weighed by the vehicles that carry each."""

from __future__ import annotations

import pytest

from operators.plate_formats import FormatSpec, preset_formats
from operators.region_prior import (
    FOREIGN_FLOOR,
    HOME_SHARE,
    VEHICLES,
    RegionPrior,
    combine_scales,
    format_masses,
    mix_scales,
)

DEFAULT = ("US", "EU", "BR", "PK")


def prior(*presets: str, **kw) -> RegionPrior:
    return RegionPrior(preset_formats(presets or DEFAULT), **kw)


def test_a_country_s_vehicles_are_split_over_its_formats_by_share_and_state_weight():
    masses = format_masses(preset_formats(["US", "FR", "NL"]))
    us = sum(m for name, m in masses.items() if name == "US" or name.startswith("US-"))
    assert us == pytest.approx(VEHICLES["US"])
    assert masses["US"] == pytest.approx(0.03 * VEHICLES["US"])  # the generic pattern: vanity plates
    assert masses["US-CA"] / masses["US-WY"] == pytest.approx(39.5 / 0.58)  # by population
    assert masses["FR"] == pytest.approx(0.85 * VEHICLES["FR"])
    assert masses["NL"] == pytest.approx(VEHICLES["NL"])


def test_a_region_missing_from_the_table_counts_one_million_and_formats_without_share_split_equally():
    masses = format_masses([FormatSpec("a", "XX", ("LLL",)), FormatSpec("b", "XX", ("NNN",))])
    assert masses == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}


@pytest.mark.parametrize(
    ("plate", "region"),
    [
        ("12ABC3", "NL"),  # a Dutch sidecode; the generic US pattern holds it too
        ("1234BCD", "ES"),
        ("ABC1D23", "BR"),  # Mercosur
        ("7ABC123", "US-CA"),  # also Belgian, but California has four times the vehicles
        ("AB12CDE", "GB"),
        ("ABC1234", None),  # Brazil's old series and a dozen US states': no clear majority
        ("AB123CD", None),  # France and Italy (and Slovakia ...)
        ("597LK", None),  # only the generic US pattern holds it: any plate of the world would
        ("BLOGGER", "US"),  # a vanity plate, not a Polish one (their A positions are mostly digits)
    ],
)
def test_the_region_is_the_country_with_a_clear_majority(plate, region):
    guess = prior().guess(plate)
    assert guess is not None
    assert guess.region == region


def test_a_string_no_format_holds_has_no_guess():
    assert prior().guess("ABCDEFGHIJKL") is None


def test_a_catch_all_names_its_country_where_the_site_names_only_that_country():
    guess = prior("US").guess("597LK")
    assert guess is not None
    assert (guess.region, guess.format_name, guess.share) == ("US", "US", 1.0)


def region(plate: str, **kw) -> str | None:
    guess = prior(**kw).guess(plate)
    assert guess is not None
    return guess.region


def test_the_default_region_is_the_site_s_own_country():
    # A Dutch sidecode that Maryland and Massachusetts use too: American by vehicle count alone,
    # Dutch at a Dutch site.
    assert region("1ABC23") == "US"
    assert region("1ABC23", default_region="NL") == "NL"
    assert region("ABC1234", default_region="BR") == "BR"
    assert region("7ABC123", default_region="BE") == "BE"
    # A site's own state among its country's plates.
    assert region("ABC1234", default_region="US-NY") == "US-NY"
    # Home weighs its own formats only: a plate it has no format for keeps its region.
    assert region("ABC1234", default_region="ES") is None
    assert region("12ABC3", default_region="US") == "NL"


def test_a_higher_min_share_claims_less():
    loose, strict = prior().guess("1ABC23"), prior(min_share=0.95).guess("1ABC23")
    assert loose is not None and strict is not None
    assert loose.region == "US"  # Maryland and Massachusetts against the Netherlands
    assert 0.6 <= loose.share < 0.95
    assert strict.region is None


@pytest.mark.parametrize("share", [0.4, 1.5])
def test_a_min_share_that_could_name_two_countries_is_refused(share):
    with pytest.raises(ValueError, match="min_share"):
        prior(min_share=share)


def test_a_traffic_mix_gives_each_named_country_its_share_and_the_rest_keeps_its_proportions():
    masses = {"US": 290.0, "NL": 11.0, "DE": 60.0}
    scales = mix_scales(masses, {"NL": 0.5})
    weighed = {c: m * scales.get(c, 1.0) for c, m in masses.items()}
    total = sum(weighed.values())
    assert weighed["NL"] / total == pytest.approx(0.5)
    assert weighed["US"] / weighed["DE"] == pytest.approx(290 / 60)  # not in the mix: unchanged
    # Shares of one or more leave FOREIGN_FLOOR to the rest; a country without mass is dropped.
    scales = mix_scales(masses, {"NL": 0.7, "US": 0.6, "XX": 0.5})
    weighed = {c: m * scales.get(c, 1.0) for c, m in masses.items()}
    assert weighed["DE"] / sum(weighed.values()) == pytest.approx(FOREIGN_FLOOR)
    assert mix_scales(masses, {"XX": 0.9}) == {}
    scales = mix_scales(masses, {"US": 0.2, "NL": 0.2, "DE": 0.1})  # every country: proportions
    weighed = {c: m * scales[c] for c, m in masses.items()}
    assert weighed["NL"] / sum(weighed.values()) == pytest.approx(0.4)


def test_the_default_region_is_a_mix_of_its_own_country_at_home_share():
    world = prior()
    assert world.guess("1ABC23", world.scales({"NL": HOME_SHARE})) == prior(default_region="NL").guess("1ABC23")


def test_countries_are_the_shares_of_the_formats_that_hold_a_plate():
    shares = prior().countries("1ABC23")
    assert set(shares) >= {"US", "NL"}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert prior().countries("597LK") == {}  # only a catch-all holds it
    assert prior().countries("ABCDEFGHIJKL") == {}


def test_a_string_only_a_catch_all_holds_is_of_its_country_where_that_country_has_most_of_the_mix():
    world = prior()
    guess = world.guess("597LK", world.scales({"US": 0.9}))
    assert guess is not None and guess.region == "US"
    guess = world.guess("597LK", world.scales({"US": 0.1}))
    assert guess is not None and guess.region is None
    # A Dutch site's mix does not make the generic US pattern Dutch.
    guess = world.guess("597LK", world.scales({"NL": 0.9}))
    assert guess is not None and guess.region is None


def test_factors_of_several_sources_multiply():
    assert combine_scales({"US": 2.0, "NL": 0.5}, None, {"NL": 4.0, "BE": 3.0}) == {"US": 2.0, "NL": 2.0, "BE": 3.0}
    assert combine_scales(None, {}) == {}


def test_countries_are_weighed_by_scales_when_given():
    prior = RegionPrior(preset_formats(["US", "EU"]))
    plain = prior.countries("1ABC234")
    assert max(plain, key=plain.__getitem__) == "US"
    weighed = prior.countries("1ABC234", {"US": 0.01})
    assert max(weighed, key=weighed.__getitem__) == "BE"
    assert abs(sum(weighed.values()) - 1) < 1e-9
    assert "US" in prior.country_names and "BE" in prior.country_names


def test_a_read_s_own_evidence_weighs_the_formats_that_hold_it_not_the_site_s_mix():
    prior = RegionPrior(preset_formats(["US", "EU"]))
    assert prior.guess("1ABC234").region == "US-CA"
    assert prior.guess("1ABC234", evidence={"US": 0.01}).region == "BE"
    # A string only the generic US pattern holds: the site's mix names it, a read's evidence does not.
    half = prior.scales({"US": 0.5})
    against_eu = {c: 0.4 for c in prior.country_names if c != "US"}
    assert prior.guess("146FM", half).region is None
    assert prior.guess("146FM", half, against_eu).region is None
    assert prior.guess("146FM", prior.scales({"US": 0.9}), {"US": 0.01}).region == "US"


def test_a_string_a_foreign_format_and_the_generic_us_pattern_hold_is_american_where_the_site_is():
    world = prior()
    # A Czech series, and an Idaho one (an openalpr-us photo's), whose state pattern weighs
    # little beside the Czech one world-wide.
    assert world.guess("8S16841").region == "CZ"
    assert world.guess("8S16841", world.scales({"US": 0.3})).region in ("CZ", None)
    site = world.scales({"US": 0.75})
    american = world.guess("8S16841", site)
    assert american is not None and american.region == "US-ID" and american.share >= 0.6
    # Nor does the crop favour another country: no band seen (absent or not looked at).
    no_band = {c: 0.4 for c in world.country_names} | {"US": 0.99, "BR": 0.99, "PK": 0.99}
    assert world.guess("8S16841", site, no_band).region == "US-ID"
    # Only the generic pattern among the US ones (a German series): the country alone.
    assert world.guess("CCLVN3").region == "DE"
    assert world.guess("CCLVN3", site, no_band).region == "US"
    # A band, which Czech plates carry and American ones do not: the visitor's own country.
    band = {c: 0.6 for c in world.country_names if c not in ("US", "BR", "PK")} | {"US": 0.01}
    assert world.guess("8S16841", site, band).region == "CZ"
    # A string US state formats hold keeps its state where they have its mass.
    state = world.guess("7ABC123", site)
    assert state is not None and state.region == "US-CA"


def test_a_site_of_another_country_does_not_make_a_string_american():
    world = prior()
    assert world.guess("8S16841", world.scales({"CZ": 0.9})).region == "CZ"
    # Only the catch-all's own country: a Dutch site's mix leaves a Czech series Czech.
    assert world.guess("8S16841", world.scales({"NL": 0.9})).region in ("CZ", None)
