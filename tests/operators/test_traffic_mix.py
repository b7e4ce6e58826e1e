"""A site's mix of countries, learned from its own reads, weighs the region of its next reads."""

from __future__ import annotations

import pytest

from config.flow import PlateRulesSettings
from operators.plate_band import Band
from operators.records import PlateRead, RecordError
from operators.traffic_mix import LEARN_WEIGHT, Traffic, learn_plate, learn_region, observe
from operators.validate import PlateValidator, ScopedValidator
from tests.operators.builders import make_track_read

# Plates of US series (the first crops of us-plates-ocr): FUW999 is held by US formats with a
# clear majority of the world-wide weight; KAA20C by US, Swedish and Dutch ones without one.
US_PLATES = ("FUW999", "FGJ235", "FHG521", "FPJ331", "6A5730A", "26A178N")
AMBIGUOUS = "KAA20C"


def scoped(**rules) -> ScopedValidator:
    return ScopedValidator(PlateRulesSettings(**rules))


def plate_read(validators: ScopedValidator, text: str, site: str = "lot-a", camera: str = "cam-1") -> PlateRead:
    out = validators.validate(make_track_read(text, site=site, camera_id=camera))
    assert isinstance(out, PlateRead), out
    return out


def learn(validators: ScopedValidator, texts, site: str = "lot-a", camera: str = "cam-1"):
    traffic, reads = None, []
    for text in texts:
        traffic, read = learn_region(validators, traffic, plate_read(validators, text, site, camera))
        reads.append(read)
    return traffic, reads


def test_counts_must_fit_within_the_reads():
    with pytest.raises(RecordError, match="do not fit"):
        Traffic(2, (("US", 3),))
    with pytest.raises(RecordError, match="do not fit"):
        Traffic(2, (("US", 0),))
    with pytest.raises(RecordError, match="do not fit"):
        Traffic(-1)


def test_the_mix_leaves_some_reads_worth_to_the_world_wide_weights():
    assert Traffic().mix() == {}
    assert Traffic().leader() is None
    traffic = Traffic(8, (("NL", 1), ("US", 5)))
    assert traffic.mix() == {"NL": pytest.approx(1 / (8 + LEARN_WEIGHT)), "US": pytest.approx(5 / (8 + LEARN_WEIGHT))}
    assert traffic.leader() == ("US", pytest.approx(5 / (8 + LEARN_WEIGHT)))


def test_a_read_counts_for_a_country_only_with_a_clear_majority():
    t = observe(None, {"US": 0.7, "SE": 0.3}, 0.6)
    assert t == Traffic(1, (("US", 1),))
    t = observe(t, {"US": 0.5, "SE": 0.4, "NL": 0.1}, 0.6)  # undecided: in the total, for no country
    assert t == Traffic(2, (("US", 1),))
    assert observe(t, {}, 0.6) is t  # no format holds it: not counted


def test_a_site_of_us_plates_makes_an_ambiguous_string_american():
    validators = scoped()
    alone = plate_read(validators, AMBIGUOUS)
    assert alone.region is None  # world-wide: the US, Sweden and the Netherlands alike
    traffic, reads = learn(validators, (*US_PLATES, AMBIGUOUS))
    assert reads[0].region == plate_read(validators, US_PLATES[0]).region  # the first read: as before
    assert reads[-1].plate == AMBIGUOUS and reads[-1].region is not None
    assert reads[-1].region.split("-")[0] == "US"
    assert traffic is not None and traffic.leader() is not None and traffic.leader()[0] == "US"


def test_each_site_learns_its_own_mix():
    validators = scoped()
    us, _ = learn(validators, US_PLATES, site="ohio")
    # A Dutch site's sidecodes (12ABC3 is Dutch world-wide too): its mix is Dutch.
    nl, _ = learn(validators, ("12ABC3", "58BDL7", "21XKK5", "34GHJ6"), site="delft")
    assert us.leader()[0] == "US" and nl.leader()[0] == "NL"
    # "1ABC23" is a Dutch sidecode and a Maryland / Massachusetts series.
    _, dutch = learn_region(validators, nl, plate_read(validators, "1ABC23", site="delft"))
    _, american = learn_region(validators, us, plate_read(validators, "1ABC23", site="ohio"))
    assert dutch.region == "NL"
    assert american.region is not None and american.region.startswith("US")


def test_a_site_that_names_its_country_is_not_learned():
    validators = scoped(sites={"delft": {"presets": ["US", "EU"], "default_region": "NL"}})
    traffic, reads = learn(validators, (*US_PLATES, "1ABC23"), site="delft")
    assert traffic is None
    assert reads[-1].region == "NL"  # the setting, not the count of American reads
    assert validators.learns  # the other sites still learn


def test_learning_can_be_turned_off():
    validators = scoped(learn_region=False)
    assert not validators.learns
    traffic, reads = learn(validators, (*US_PLATES, AMBIGUOUS))
    assert traffic is None
    assert reads[-1].region is None


def test_a_custom_format_keeps_its_region_and_is_not_counted():
    validator = PlateValidator.from_settings(
        PlateRulesSettings(custom_formats=[{"name": "permit", "region": "XX", "template": "LLN{3,4}"}])
    )
    traffic = Traffic(10, (("US", 10),))
    assert learn_plate(validator, traffic, "AB123", "XX", "permit") == (traffic, "XX", "permit")


def test_a_no_plate_event_passes_as_it_is():
    traffic = Traffic(3, (("US", 3),))
    assert learn_plate(PlateValidator.from_settings(PlateRulesSettings()), traffic, "", None, "no_plate") == (
        traffic,
        None,
        "no_plate",
    )


def test_a_band_on_the_crop_makes_a_string_of_california_and_belgium_belgian():
    validator = PlateValidator.from_settings(PlateRulesSettings())
    match = validator.match("1ABC234")
    assert match is not None
    seen = {band: learn_plate(validator, None, match.plate, match.region, match.format_name, band) for band in Band}
    assert seen[Band.UNKNOWN][1] == "US-CA"
    assert seen[Band.ABSENT][1] == "US-CA"
    traffic, region, _ = seen[Band.PRESENT]
    assert region == "BE"
    assert traffic is not None and dict(traffic.countries) == {"BE": 1}  # this read's own evidence counts


def test_a_site_that_names_its_country_ignores_the_band():
    validator = PlateValidator.from_settings(PlateRulesSettings(default_region="US"))
    match = validator.match("1ABC234")
    assert match is not None
    _, region, _ = learn_plate(validator, None, match.plate, match.region, match.format_name, Band.PRESENT)
    assert region == "US-CA"


def test_a_site_of_us_plates_makes_a_foreign_series_the_generic_us_pattern_holds_american():
    validators = scoped()
    assert plate_read(validators, "CCLVN3").region == "DE"  # world-wide: a German series
    _, reads = learn(validators, (*US_PLATES, "CCLVN3"))
    assert reads[-1].region == "US"
    # A band on its crop says it is a visitor.
    traffic, _ = learn(validators, US_PLATES)
    _, read = learn_region(validators, traffic, plate_read(validators, "CCLVN3"), Band.PRESENT)
    assert read.region == "DE"
