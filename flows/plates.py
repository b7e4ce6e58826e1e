"""The plates dataflow: edge crops in, one clean plate event per vehicle pass out.

Run it with ``python -m bytewax.run flows.plates`` (see docs/flow.md for workers,
processes and recovery). This module only wires steps: each step is named for its module in
``flows/steps/`` (``decode`` -> ``flows/steps/decode.py``, ...), which owns its counters; the
sources and sinks are ``flows/source.py`` and ``flows/sinks/``; the pure logic is in
``operators/``. Importing it connects to nothing: clients open, and the process is set up
(:func:`flows.process.start`: logs, ``/metrics``, GC), when the dataflow starts.

For tests and tools, ``python -m bytewax.run "flows.plates:build_flow(load_settings('my.yaml'))"``
or :func:`build_flow` with other sources, sinks or steps.
"""

from __future__ import annotations

from functools import partial

from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from config.load import load_settings
from config.settings import Settings
from flows import metrics, process
from flows.assemble import FlowSinks, FlowSteps
from flows.sinks.timed import timed
from flows.source import RawMessage, crop_source
from flows.steps import dedup, region, store_crop
from flows.steps.best_shot import TrackWindow
from flows.steps.dedup import DedupLogic
from operators.records import PlateRead

# Steps take whole batches (``op.flat_map_batch``): bytewax calls Python once per batch, not
# once per item, and counters move once per batch. Predicates of ``op.branch`` (still called
# per item) are C-level ``isinstance`` checks.
_is_keyed_crop = partial(type.__instancecheck__, tuple)  # (camera:track, PlateCrop) vs DeadLetter
_is_plate = partial(type.__instancecheck__, PlateRead)  # PlateRead vs RejectedRead


def build_flow(
    settings: Settings,
    source: Source[RawMessage] | None = None,
    sinks: FlowSinks | None = None,
    steps: FlowSteps | None = None,
) -> Dataflow:
    """The plates dataflow; ``source``/``sinks``/``steps`` default to the production ones."""
    steps = steps or FlowSteps.from_settings(settings)
    sinks = sinks or FlowSinks.from_settings(settings)
    flow = Dataflow("plates")

    raw = op.input("crops_in", flow, source or crop_source(settings, on_start=partial(process.start, settings)))
    # KafkaSourceMessage[bytes | None, bytes | None] | KafkaError   (Avro PlateCrop values)
    decoded = op.flat_map_batch("decode", raw, steps.decode)
    # (camera:track, PlateCrop) | DeadLetter
    crops = op.branch("decoded_ok", decoded, _is_keyed_crop)
    # .trues: (camera:track, PlateCrop), .falses: DeadLetter
    if sinks.dead_letters is not None:
        op.output("dead_letters_out", crops.falses, sinks.dead_letters)

    closed = op.stateful_batch("best_shot", crops.trues, TrackWindow.builder(steps.best_shot))
    # (camera:track, ClosedTrack)   a provisional copy early, the final one when the track closes
    read = op.flat_map_batch("ocr", closed, steps.ocr)
    # (camera:track, TrackReads)    one OcrRead per kept crop
    voted = op.flat_map_batch("vote", read, steps.vote)
    # PlateRead | RejectedRead   (provisional ones only on watchlist hits, with publish: hits)
    plates = op.branch("valid", voted, _is_plate)
    # .trues: PlateRead, .falses: RejectedRead
    if sinks.rejected is not None:
        op.output("rejected_out", plates.falses, sinks.rejected)

    regional = region.stream("region", plates.trues, steps.region)
    # PlateRead   its region guessed again under its site's learned mix of countries (keyed by site inside)
    stored = store_crop.stream("store_crop", regional, steps.store_crop)
    # (camera or site, PlateEvent)   one sighting, best crop stored, crop_key/crop_url set
    merged = op.stateful("dedup", stored, DedupLogic.builder(steps.dedup))
    # (camera or site, PlateEvent)   a new event, or an update of a recent one (same event_id)
    events = op.flat_map_batch("unkey_dedup", merged, dedup.unkey)
    # PlateEvent
    if sinks.events is not None:
        op.output("events_db", events, timed(sinks.events, metrics.FRAME_TO_DB_SECONDS, lambda e: e.frame_ts))
    if sinks.plate_events is not None:
        op.output("events_kafka", events, sinks.plate_events)

    hits = op.flat_map_batch("watchlist", events, steps.watchlist)
    # WatchlistHit   one per matching entry; an update re-raises the same alert_id
    if sinks.alerts is not None:
        op.output("alerts_out", hits, timed(sinks.alerts, metrics.FRAME_TO_ALERT_SECONDS, lambda h: h.event.frame_ts))
    if sinks.alerts_topic is not None:
        op.output("alerts_kafka", hits, sinks.alerts_topic)
    return flow


flow = build_flow(load_settings())
