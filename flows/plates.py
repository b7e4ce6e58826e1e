"""The plates dataflow: edge crops in, one clean plate event per vehicle pass out.

Run it with ``python -m bytewax.run flows.plates`` (see docs/flow.md for workers,
processes and recovery). This module only wires steps; each step's logic lives in
``operators/`` (pure) or beside this file (sources, sinks, OCR adapter). Importing it
connects to nothing: clients open when the dataflow runs.

For tests and tools, ``python -m bytewax.run "flows.plates:build_flow(load_settings('my.yaml'))"``
or :func:`build_flow` with other sources, sinks or parts.
"""

from __future__ import annotations

from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from config.load import load_settings
from config.settings import Settings
from flows import metrics
from flows.dedup_step import DedupLogic
from flows.parts import FlowParts, FlowSinks, timed
from flows.source import RawMessage, crop_source
from flows.tracks import TrackWindow
from operators.dedup import dedup_key
from operators.records import PlateCrop, PlateRead


def _is_crop(item: object) -> bool:
    return isinstance(item, PlateCrop)


def _is_plate(item: object) -> bool:
    return isinstance(item, PlateRead)


def _track_key(crop: PlateCrop) -> str:
    return crop.key


def build_flow(
    settings: Settings,
    source: Source[RawMessage] | None = None,
    sinks: FlowSinks | None = None,
    parts: FlowParts | None = None,
) -> Dataflow:
    """The plates dataflow; ``source``/``sinks``/``parts`` default to the production ones."""
    parts = parts or FlowParts.from_settings(settings)
    sinks = sinks or FlowSinks.from_settings(settings)
    by = parts.dedup.by
    flow = Dataflow("plates")

    raw = op.input("crops_in", flow, source or crop_source(settings))
    # KafkaSourceMessage[bytes | None, bytes | None] | KafkaError   (Avro PlateCrop values)
    decoded = op.flat_map_batch("decode", raw, parts.decode)
    # PlateCrop | DeadLetter
    crops = op.branch("decoded_ok", decoded, _is_crop)
    # .trues: PlateCrop, .falses: DeadLetter
    if sinks.dead_letters is not None:
        op.output("dead_letters_out", crops.falses, sinks.dead_letters)

    by_track = op.key_on("key_track", crops.trues, _track_key)
    # (camera:track, PlateCrop)
    closed = op.stateful("best_shot", by_track, TrackWindow.builder(parts.window))
    # (camera:track, ClosedTrack)   a provisional copy early, the final one when the track closes
    op.inspect("count_tracks", closed, metrics.counted("best_shot"))
    read = op.flat_map_batch("ocr", closed, parts.ocr)
    # (camera:track, TrackReads)    one OcrRead per kept crop
    voted = op.map("vote", op.key_rm("unkey_track", read), parts.vote)
    # TrackRead
    checked = op.map("validate", voted, parts.validate)
    # PlateRead | RejectedRead
    plates = op.branch("valid", checked, _is_plate)
    # .trues: PlateRead, .falses: RejectedRead
    op.inspect("count_valid", plates.trues, metrics.counted("validate"))
    if sinks.rejected is not None:
        op.output("rejected_out", plates.falses, sinks.rejected)
    op.inspect("count_rejected", plates.falses, lambda _s, r: metrics.REJECTED_READS.labels(r.reason).inc())

    stored = op.flat_map_batch("store_crop", plates.trues, parts.store_crops)
    # PlateEvent   one sighting, best crop uploaded, crop_key/crop_url set
    by_place = op.key_on("key_dedup", stored, lambda e: dedup_key(e, by))
    # (camera or site, PlateEvent)
    merged = op.stateful("dedup", by_place, DedupLogic.builder(parts.dedup))
    # (camera or site, PlateEvent)   a new event, or an update of a recent one (same event_id)
    events = op.key_rm("unkey_dedup", merged)
    # PlateEvent
    op.inspect("count_events", events, metrics.counted("events"))
    if sinks.events is not None:
        op.output("events_db", events, timed(sinks.events, metrics.FRAME_TO_DB_SECONDS, lambda e: e.frame_ts))
    if sinks.plate_events is not None:
        op.output("events_kafka", events, sinks.plate_events)

    hits = op.flat_map("watchlist", events, parts.match)
    # WatchlistHit   one per matching entry; an update re-raises the same alert_id
    op.inspect("count_hits", hits, metrics.counted("watchlist_hits"))
    if sinks.alerts is not None:
        op.output(
            "alerts_out",
            hits,
            timed(sinks.alerts, metrics.FRAME_TO_ALERT_SECONDS, lambda h: h.event.frame_ts),
        )
    if sinks.alerts_topic is not None:
        op.output("alerts_kafka", hits, sinks.alerts_topic)
    return flow


flow = build_flow(load_settings())
