"""The region step: a site's learned mix is reported (gauge, and a log line when its leader changes)."""

from __future__ import annotations

import logging
from dataclasses import replace

import cv2
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from prometheus_client import REGISTRY

from config.flow import PlateRulesSettings
from flows.steps import region
from flows.steps.region import Region, band_of, look_for_band, stream
from operators.plate_band import Band
from operators.records import PlateRead
from operators.validate import ScopedValidator
from tests.operators.builders import drawn_plate, make_track_read


def reads(validators: ScopedValidator, site: str, *texts: str) -> list[PlateRead]:
    out = [validators.validate(make_track_read(t, site=site)) for t in texts]
    assert all(isinstance(r, PlateRead) for r in out)
    return out  # type: ignore[return-value]


def share(site: str, country: str) -> float | None:
    return REGISTRY.get_sample_value("alpr_flow_site_country_share", {"site": site, "country": country})


def bands(band: str) -> float:
    return REGISTRY.get_sample_value("alpr_flow_plate_bands_total", {"band": band}) or 0.0


def test_the_leading_country_of_each_site_is_reported_and_replaced_when_it_changes(caplog):
    validators = ScopedValidator(PlateRulesSettings())
    step = Region(validators)
    traffic = None
    caplog.set_level(logging.INFO, logger="flows.steps.region")
    for read in reads(validators, "delft-t", "12ABC3", "58BDL7"):
        traffic, _ = step(traffic, read)
    assert share("delft-t", "NL") == 2 / 4  # two Dutch reads and two reads' worth of the world
    assert "site delft-t: most reads are of NL now" in caplog.text
    for read in reads(validators, "delft-t", "FUW999", "FGJ235", "FHG521"):
        traffic, _ = step(traffic, read)
    assert share("delft-t", "US") == 3 / 7
    assert share("delft-t", "NL") is None  # one series per site: its leader


def test_the_step_is_left_out_where_nothing_is_learned():
    flow = Dataflow("region-off")
    src = op.input("in", flow, TestingSource([]))
    validators = ScopedValidator(PlateRulesSettings(learn_region=False))
    assert stream("region", src, Region(validators)) is src


def test_reads_come_out_in_order_with_the_site_s_region():
    validators = ScopedValidator(PlateRulesSettings())
    inputs = reads(validators, "ohio-t", "FUW999", "FGJ235", "FHG521", "KAA20C") + reads(
        validators, "other-t", "KAA20C"
    )
    out: list[PlateRead] = []
    flow = Dataflow("region-on")
    op.output(
        "out", stream("region", op.input("in", flow, TestingSource(inputs)), Region(validators)), TestingSink(out)
    )
    run_main(flow)
    regions = {(r.read.site, r.plate): r.region for r in out}
    assert [r.plate for r in out if r.read.site == "ohio-t"] == ["FUW999", "FGJ235", "FHG521", "KAA20C"]
    assert (regions[("ohio-t", "KAA20C")] or "").startswith("US")
    assert regions[("other-t", "KAA20C")] is None


def test_sites_beyond_the_cap_are_learned_but_not_on_metrics(monkeypatch, caplog):
    monkeypatch.setattr(region, "MAX_REPORTED_SITES", 2)
    validators = ScopedValidator(PlateRulesSettings())
    step = Region(validators)
    caplog.set_level(logging.WARNING, logger="flows.steps.region")
    learned = {}
    for site in ("cap-a", "cap-b", "cap-c", "cap-d"):
        (read,) = reads(validators, site, "FUW999")
        learned[site], _ = step(None, read)
    assert share("cap-a", "US") is not None and share("cap-b", "US") is not None
    assert share("cap-c", "US") is None and share("cap-d", "US") is None
    assert learned["cap-d"] is not None and learned["cap-d"].leader()[0] == "US"  # learned all the same
    assert caplog.text.count("more than 2 sites") == 1


def test_the_best_crop_s_band_makes_a_string_of_california_and_belgium_belgian():
    validators = ScopedValidator(PlateRulesSettings())
    step = Region(validators)
    [read] = reads(validators, "brussels-t", "1ABC234")
    ok, jpeg = cv2.imencode(".jpg", drawn_plate())
    assert ok
    banded = replace(read, read=replace(read.read, best_crop=replace(read.read.best_crop, image=jpeg.tobytes())))
    before = {b: bands(b) for b in ("present", "unknown")}
    _, out = step(None, banded)
    assert out.region == "BE"
    _, out = step(None, read)  # its crop does not decode: the band is unknown
    assert out.region == "US-CA"
    assert {b: bands(b) - before[b] for b in before} == {"present": 1, "unknown": 1}
    provisional = replace(banded, read=replace(banded.read, provisional=True))
    _, out = step(None, provisional)  # not looked at: its final read soon is
    assert out.region == "US-CA"
    assert {b: bands(b) - before[b] for b in before} == {"present": 1, "unknown": 1}


def test_a_crop_is_looked_at_from_its_jpeg_at_any_size_and_a_broken_one_says_nothing():
    crop = make_track_read("1ABC234").best_crop
    for scale in (1, 3):  # 3: decoded at half size
        image = cv2.resize(drawn_plate(), None, fx=scale, fy=scale)
        ok, jpeg = cv2.imencode(".jpg", image)
        assert ok
        box = replace(crop.bbox, h=image.shape[0], w=image.shape[1])
        assert band_of(replace(crop, image=jpeg.tobytes(), bbox=box)) is Band.PRESENT
    assert band_of(replace(crop, image=b"\xff\xd8 not a jpeg")) is Band.UNKNOWN
    assert look_for_band(drawn_plate(band=None, around=(50, 50, 160))) is Band.ABSENT


def test_what_the_edge_saw_is_taken_and_the_jpeg_is_not_decoded():
    crop = make_track_read("1ABC234").best_crop
    not_a_jpeg = replace(crop, image=b"\xff\xd8 not a jpeg")
    assert band_of(replace(not_a_jpeg, band="present")) is Band.PRESENT
    assert band_of(replace(not_a_jpeg, band="absent")) is Band.ABSENT
    assert band_of(not_a_jpeg) is Band.UNKNOWN  # an older edge: the flow looks, and cannot
