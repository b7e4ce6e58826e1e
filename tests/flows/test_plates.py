"""The plates dataflow end to end in-process: TestingSource -> real steps -> TestingSinks.

Real crops (us-plates-ocr) go through the real default OCR engine, the real operators
and the real Avro codecs; only the schema registry is confluent's in-memory one and the
outputs are bytewax TestingSinks (the integration tests use the real services).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

from config.settings import Settings
from flows.assemble import FlowSinks, FlowSteps
from flows.plates import build_flow
from flows.steps.decode import CropDecoder
from flows.steps.ocr import CropReader
from flows.steps.store_crop import events_without_crops
from ocr.registry import load_engine
from operators.records import DeadLetter, PlateEvent, RejectedRead, WatchlistEntry, WatchlistHit
from operators.watchlist import Watchlist
from schemas.serde import AvroDecoder, AvroEncoder
from tests.flows.crops import T0, labelled_crops, make_crop

TOPIC = "alpr.edge.crops"


@pytest.fixture(scope="module")
def registry() -> MockSchemaRegistryClient:
    return MockSchemaRegistryClient({"url": "mock://flows-plates"})


@pytest.fixture(scope="module")
def reader() -> CropReader:
    settings = Settings()
    return CropReader(lambda: load_engine(settings.ocr), settings.ocr.batch_size)


class Run:
    """Outputs of one run of the flow."""

    def __init__(self) -> None:
        self.dead: list[DeadLetter] = []
        self.rejected: list[RejectedRead] = []
        self.events: list[PlateEvent] = []
        self.hits: list[WatchlistHit] = []

    def sinks(self) -> FlowSinks:
        return FlowSinks(
            dead_letters=TestingSink(self.dead),
            rejected=TestingSink(self.rejected),
            events=TestingSink(self.events),
            alerts=TestingSink(self.hits),
        )

    def latest(self) -> dict[str, PlateEvent]:
        """Last state of each event id (updates supersede)."""
        out: dict[str, PlateEvent] = {}
        for e in self.events:
            out[e.event_id] = e
        return out


def settings_with(**flow) -> Settings:
    return Settings(flow=flow)


def run_flow(registry, reader, messages, *, entries=(), workers: int = 1, **flow) -> Run:
    # Tracks close at the end of the input, never by the processing clock: on a loaded machine the
    # real OCR of one batch can take longer than the idle gap, which would close a track before the
    # rest of its crops are taken (tests/flows/steps/test_best_shot.py tests that clock with an injected one).
    flow = {"track_idle_s": 600.0, "track_max_s": 600.0, **flow}
    settings = settings_with(**flow)
    parts = FlowSteps.from_settings(
        settings,
        decode=CropDecoder(lambda: AvroDecoder(registry, reader_schema="plate_crop"), registry_retry_s=0),
        store_crops=events_without_crops,
        watchlist=lambda: Watchlist(entries),
        reader=reader,
    )
    out = Run()
    dataflow = build_flow(settings, TestingSource(messages), out.sinks(), parts)
    if workers == 1:
        run_main(dataflow)
    else:
        cluster_main(dataflow, [], 0, worker_count_per_proc=workers)
    return out


def track_messages(
    registry, plate_index: int, *, camera="cam-1", track="t1", n=3, start_s=0.0, offset=0, site="default"
):
    """``n`` crops of one real plate image as Avro Kafka messages (qualities differ per crop)."""
    enc = AvroEncoder(registry, "plate_crop", TOPIC)
    jpeg = labelled_crops()[plate_index].jpeg
    msgs = []
    for i in range(n):
        crop = make_crop(
            jpeg,
            camera=camera,
            track=track,
            index=i,
            at=T0 + timedelta(seconds=start_s + 0.1 * i),
            quality=0.5 + 0.1 * i,
            site=site,
        )
        msgs.append(
            KafkaSourceMessage(camera.encode(), enc.encode(crop.to_avro()), topic=TOPIC, partition=0, offset=offset + i)
        )
    return msgs


def entry(pattern: str, entry_id: int = 1, match_type: str = "exact") -> WatchlistEntry:
    return WatchlistEntry(
        entry_id=entry_id,
        watchlist_id=1,
        watchlist="stolen",
        pattern=pattern,
        match_type=match_type,
        max_distance=1,
        severity="high",
        channels=("ops",),
    )


def test_tracks_become_events_bad_messages_dead_letters_and_hits_alerts(registry, reader):
    plates = [c.plate for c in labelled_crops()]
    junk = KafkaSourceMessage(b"cam-1", b"\x00\x00\x00\x00\x09 not avro", topic=TOPIC, partition=0, offset=99)
    msgs = [
        *track_messages(registry, 0, track="t1"),
        junk,
        *track_messages(registry, 1, camera="cam-2", track="t7", offset=10),
    ]
    out = run_flow(registry, reader, msgs, entries=[entry(plates[1])], provisional={"enabled": False})

    assert [(d.step, d.value, d.offset) for d in out.dead] == [("decode", junk.value, 99)]
    latest = out.latest()
    assert sorted((e.camera_id, e.plate) for e in latest.values()) == [
        ("cam-1", plates[0]),
        ("cam-2", plates[1]),
    ]
    for e in latest.values():
        assert e.sightings == 1 and not e.provisional
        assert e.first_seen == T0 and e.last_seen == T0 + timedelta(seconds=0.2)
        assert e.frame_ts == T0 + timedelta(seconds=0.2)  # the highest-quality crop
    assert [(h.event.plate, h.entry.entry_id) for h in out.hits] == [(plates[1], 1)]
    assert out.rejected == []


def test_unreadable_track_is_rejected_not_dropped(registry, reader):
    enc = AvroEncoder(registry, "plate_crop", TOPIC)
    msgs = [
        KafkaSourceMessage(b"cam-1", enc.encode(make_crop(b"\xff\xd8 broken jpeg", index=i).to_avro()), topic=TOPIC)
        for i in range(2)
    ]
    out = run_flow(registry, reader, msgs)
    assert [(r.reason, r.read.track_id, r.read.n_crops) for r in out.rejected] == [("empty", "run1-1", 2)]
    assert out.events == [] and out.dead == []


def test_same_plate_twice_on_a_camera_merges_into_one_event(registry, reader):
    plate = labelled_crops()[2].plate
    msgs = [
        *track_messages(registry, 2, track="a", n=2),
        *track_messages(registry, 2, track="b", n=2, start_s=30.0),  # 30 s later: same vehicle again
        *track_messages(registry, 2, camera="cam-9", track="c", n=2),  # another camera: its own event
    ]
    out = run_flow(registry, reader, msgs, entries=[entry(plate)], provisional={"enabled": False})
    latest = out.latest()
    by_camera = {e.camera_id: e for e in latest.values()}
    assert set(by_camera) == {"cam-1", "cam-9"}
    assert by_camera["cam-1"].sightings == 2
    assert by_camera["cam-1"].last_seen == T0 + timedelta(seconds=30.1)
    # the update of cam-1's event re-raises the same alert id: one alert per (event, entry)
    assert len({h.alert_id for h in out.hits}) == 2
    assert Counter(h.event.camera_id for h in out.hits) == {"cam-1": 2, "cam-9": 1}


def run_provisional(registry, reader, *, listed: bool = True, publish: str = "hits") -> tuple[str, Run]:
    """One track of 4 crops read early at 2 crops; its plate on a watchlist when ``listed``."""
    plate = labelled_crops()[3].plate
    out = run_flow(
        registry,
        reader,
        track_messages(registry, 3, n=4),
        entries=[entry(plate)] if listed else [entry("ZZZ9999")],
        provisional={"enabled": True, "min_crops": 2, "min_quality": 1.0, "publish": publish},
    )
    return plate, out


def test_provisional_read_is_superseded_by_the_final_one(registry, reader):
    plate, out = run_provisional(registry, reader)
    assert [e.provisional for e in out.events] == [True, False]
    assert len({e.event_id for e in out.events}) == 1
    final = out.events[-1]
    assert (final.plate, final.sightings, final.last_seen) == (plate, 1, T0 + timedelta(seconds=0.3))
    # provisional hit first, for a low alert latency; the final one repeats the same alert id
    assert [h.event.provisional for h in out.hits] == [True, False]
    assert len({h.alert_id for h in out.hits}) == 1


@pytest.mark.parametrize(
    ("publish", "listed", "expected"),
    [
        ("hits", False, [False]),  # no watchlist hit: only the final read becomes an event
        ("hits", True, [True, False]),  # a hit: the provisional event goes out early
        ("all", False, [True, False]),  # every provisional read becomes an event
    ],
)
def test_which_provisional_reads_become_events(registry, reader, publish, listed, expected):
    plate, out = run_provisional(registry, reader, listed=listed, publish=publish)
    assert [e.provisional for e in out.events] == expected
    assert len({e.event_id for e in out.events}) == 1 and out.events[-1].plate == plate
    assert not out.rejected
    assert [h.event.provisional for h in out.hits] == (expected if listed else [])


def test_two_workers_give_the_same_events_as_one(registry, reader):
    msgs = []
    for k in range(4):
        msgs += track_messages(registry, k, camera=f"cam-{k % 2}", track=f"t{k}", n=2, start_s=400.0 * k)
    one = run_flow(registry, reader, msgs, provisional={"enabled": False})
    two = run_flow(registry, reader, msgs, workers=2, provisional={"enabled": False})

    def shape(run: Run):
        return sorted((e.event_id, e.plate, e.sightings) for e in run.latest().values())

    assert len(shape(one)) == 4
    assert shape(two) == shape(one)


def test_each_camera_reads_under_its_own_or_its_sites_formats(registry, reader):
    # One plate (FUW999) on two cameras: under the global presets (US, EU, BR, PK) it is a US series
    # (Sweden's and others' too, with far fewer vehicles); the camera configured for Sweden only
    # gives it Sweden.
    plate = labelled_crops()[0].plate
    msgs = track_messages(registry, 0, camera="cam-1", track="t1")
    msgs += track_messages(registry, 0, camera="cam-se", track="t2", start_s=1.0, offset=3)
    # region_band off: FUW999's Alaskan plate carries a blue band at its left, as EU plates do (below).
    plates = {"cameras": {"cam-se": {"presets": ["SE"]}}, "region_band": False}
    out = run_flow(registry, reader, msgs, plates=plates)
    regions = {e.camera_id: (e.plate, e.region) for e in out.latest().values()}
    assert regions == {"cam-1": (plate, "US"), "cam-se": (plate, "SE")}


def test_a_site_s_own_reads_weigh_the_region_of_its_next_ones(registry, reader):
    # KAA20C (the 9th labelled crop) fits US, Swedish and Dutch formats, none with a clear majority
    # world-wide; after eight reads that only US formats clearly hold, the site is American.
    crops = labelled_crops()
    msgs = []
    for k in range(8):
        msgs += track_messages(registry, k, camera="cam-oh", track=f"t{k}", start_s=10.0 * k, offset=3 * k, site="ohio")
    msgs += track_messages(registry, 8, camera="cam-oh", track="t8", start_s=80.0, offset=24, site="ohio")
    msgs += track_messages(registry, 8, camera="cam-x", track="t9", start_s=80.0, offset=27, site="elsewhere")
    # The count alone: the band seen in each crop is another cue (next test).
    out = run_flow(registry, reader, msgs, provisional={"publish": "all"}, plates={"region_band": False})
    last = {(e.site, e.plate): e.region for e in out.latest().values()}
    assert crops[8].plate == "KAA20C"
    assert last[("elsewhere", "KAA20C")] is None
    assert (last[("ohio", "KAA20C")] or "").split("-")[0] == "US"
    assert all((last[("ohio", c.plate)] or "").startswith("US") for c in crops[:8])


def test_the_band_seen_in_the_best_crop_weighs_the_region(registry, reader):
    # KAA20C's crop (New Jersey) shows no band at its left: the European series that also hold
    # it weigh less, and it is American. FUW999's (Alaska's 50th-anniversary series) shows a blue
    # band with the flag, as EU plates do: the US series that clearly hold it no longer do.
    crops = labelled_crops()
    assert (crops[0].plate, crops[8].plate) == ("FUW999", "KAA20C")
    msgs = track_messages(registry, 0, camera="cam-x", track="t0", site="elsewhere")
    msgs += track_messages(registry, 8, camera="cam-x", track="t1", start_s=10.0, offset=3, site="elsewhere")
    regions = {}
    for band in (True, False):
        out = run_flow(registry, reader, msgs, plates={"region_band": band})
        regions[band] = {e.plate: e.region for e in out.latest().values()}
    assert (regions[True]["KAA20C"] or "").split("-")[0] == "US"
    assert regions[True]["FUW999"] is None
    assert regions[False] == {"FUW999": "US", "KAA20C": None}
