"""Vehicles in the flow's pure logic: the track's vehicle from its crops, no-plate reads and events,
and that no-plate events never merge (dedup) nor hit a watchlist."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.flow import FlowSettings
from operators.best_shot import vote
from operators.dedup import DedupRules, dedup
from operators.records import Box, PlateEvent, PlateRead, RecordError, Vehicle, WatchlistEntry
from operators.validate import PlateValidator
from operators.watchlist import Watchlist
from tests.operators.builders import make_crop, make_read


def _vehicle_crop(n: int, kind: str | None, colour: str | None, **kw):
    return replace(
        make_crop(n, **kw), vehicle_track_id="v-1", vehicle_bbox=Box(10 * n, 0, 300, 200),
        vehicle_type=kind, vehicle_colour=colour,
    )  # fmt: skip


def test_the_track_vehicle_is_the_newest_crops_with_the_best_crops_box() -> None:
    crops = [
        make_crop(0, quality=0.2),
        _vehicle_crop(1, "truck", "grey", quality=0.9),
        _vehicle_crop(2, "car", "white"),
    ]
    read = vote([make_read(c, "ABC123") for c in crops], crops)
    assert read.best_crop.crop_id == crops[1].crop_id
    assert read.vehicle == Vehicle("v-1", Box(10, 0, 300, 200), "car", "white")
    assert vote([make_read(crops[0], "ABC123")], crops[:1]).vehicle is None
    event = PlateEvent.from_read(PlateRead(read, "ABC123", "ABC123", "US", "US"))
    assert event.vehicle == read.vehicle and not event.no_plate
    avro = event.to_avro()
    assert (avro["vehicle_type"], avro["vehicle_colour"]) == ("car", "white")
    assert avro["vehicle_bbox"] == Box(10, 0, 300, 200).to_avro()
    # The Avro event names the vehicle, not its edge track.
    assert PlateEvent.from_avro(avro) == replace(event, vehicle=replace(event.vehicle, track_id=None))


def _no_plate_event(track: str, t: float) -> PlateEvent:
    crop = replace(_vehicle_crop(0, "car", "black", t=t, track_id=track), no_plate=True)
    read = vote([make_read(crop, "")], [crop])
    plate = PlateValidator.from_settings(FlowSettings().plates).validate(read)
    assert isinstance(plate, PlateRead) and plate.plate == "" and plate.format_name == "no_plate"
    return PlateEvent.from_read(plate)


def test_a_no_plate_vehicle_is_an_event_with_an_empty_plate() -> None:
    event = _no_plate_event("v-1", 0.0)
    assert event.no_plate and event.plate == "" and event.vehicle.type == "car"
    assert PlateEvent.from_avro(event.to_avro()) == replace(event, vehicle=replace(event.vehicle, track_id=None))
    with pytest.raises(RecordError, match="empty for a no-plate"):
        replace(event, plate="ABC123")
    with pytest.raises(RecordError, match="plate"):
        replace(event, no_plate=False)  # a plate event needs a plate


def test_no_plate_events_never_merge_nor_hit_watchlists() -> None:
    rules = DedupRules.from_settings(FlowSettings())
    state = None
    out = []
    for i in range(3):
        state, event = dedup(state, _no_plate_event(f"v-{i}", float(i)), rules)
        out.append(event)
    assert len({e.event_id for e in out}) == 3 and all(e.sightings == 1 for e in out)
    entry = WatchlistEntry(
        entry_id=1, watchlist_id=1, watchlist="all", pattern=".*", match_type="regex", max_distance=0,
        severity="high",
    )  # fmt: skip
    assert Watchlist([entry]).hits(out[0], out[0].last_seen) == []
