"""The plates dataflow: edge crops in, one clean plate event per vehicle pass out.

Run it with ``python -m bytewax.run flows.plates`` (see docs/flow.md for workers,
processes and recovery). This module only wires steps; each step's logic lives in
``operators/`` (pure) or beside this file (sources, sinks, OCR adapter). Importing it
connects to nothing: clients open when the dataflow runs.

For tests and tools, ``python -m bytewax.run "flows.plates:build_flow(load_settings('my.yaml'))"``
or :func:`build_flow` with other sources, sinks or parts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from config.load import load_settings
from config.settings import Settings
from flows import metrics
from flows.crop_step import CropUploads
from flows.dedup_step import DedupLogic
from flows.ocr_step import TrackReads
from flows.parts import FlowParts, FlowSinks, timed
from flows.source import Decoded, RawMessage, crop_source
from flows.tracks import TrackWindow
from operators.dedup import dedup_key
from operators.records import PlateCrop, PlateEvent, PlateRead, RejectedRead, TrackRead, WatchlistHit

# Steps take whole batches (``op.flat_map_batch``): bytewax calls Python once per batch, not
# once per item, and counters move once per batch. Predicates of ``op.branch`` (still called
# per item) are C-level ``isinstance`` checks.
_is_keyed_crop = partial(type.__instancecheck__, tuple)  # (camera:track, PlateCrop) vs DeadLetter
_is_plate = partial(type.__instancecheck__, PlateRead)  # PlateRead vs RejectedRead


def _keyed(decode: Callable[[list[RawMessage]], list[Decoded]]) -> Callable[[list[RawMessage]], list[Any]]:
    """Decode a batch; crops come out keyed by track (``camera:track``), dead letters as they are."""

    def keyed(batch: list[RawMessage]) -> list[Any]:
        return [
            (f"{d.camera_id}:{d.track_id}", d) if type(d) is PlateCrop else d  # noqa: E721
            for d in decode(batch)
        ]

    return keyed


def _counting(step: str, fn: Callable[[list[Any]], list[Any]]) -> Callable[[list[Any]], list[Any]]:
    """``fn`` counting the items that enter it as the output of ``step``."""
    child = metrics.STEP_ITEMS.labels(step)

    def counting(items: list[Any]) -> list[Any]:
        child.inc(len(items))
        return fn(items)

    return counting


def _hits_only(match: Callable[[PlateEvent], list[WatchlistHit]]) -> Callable[[PlateRead | RejectedRead], bool]:
    """``flow.provisional.publish: hits``: keep final reads, and provisional reads that hit a watchlist.

    A provisional read exists for alert latency; the same track's final read always follows
    (idle gap, maximum duration or end of input), so one held back here loses nothing.
    """

    def keep(r: PlateRead | RejectedRead) -> bool:
        if not r.read.provisional:
            return True
        return type(r) is PlateRead and bool(match(PlateEvent.from_read(r)))  # noqa: E721

    return keep


def _vote_and_validate(
    vote: Callable[[TrackReads], TrackRead],
    validate: Callable[[TrackRead], PlateRead | RejectedRead],
    keep: Callable[[PlateRead | RejectedRead], bool] | None = None,
) -> Callable[[list[tuple[str, TrackReads]]], list[PlateRead | RejectedRead]]:
    """``[(key, TrackReads)] -> [PlateRead | RejectedRead]``, counting valid and rejected reads;
    with ``keep``, only the reads it accepts go on (the others are counted as held back)."""
    valid = metrics.STEP_ITEMS.labels("validate")
    held = metrics.STEP_ITEMS.labels("provisional_held")

    def step(items: list[tuple[str, TrackReads]]) -> list[PlateRead | RejectedRead]:
        out = [validate(vote(reads)) for _, reads in items]
        if keep is not None:
            n = len(out)
            out = [r for r in out if keep(r)]
            held.inc(n - len(out))
        n_valid = 0
        for r in out:
            if type(r) is PlateRead:  # noqa: E721
                n_valid += 1
            else:
                metrics.REJECTED_READS.labels(r.reason).inc()
        valid.inc(n_valid)
        return out

    return step


def _keyed_for_dedup(
    store: Callable[[list[PlateRead]], list[PlateEvent]], by: str
) -> Callable[[list[PlateRead]], list[tuple[str, PlateEvent]]]:
    """Store the best crops of a batch of reads; the events come out keyed for dedup."""
    if by == "camera":
        return lambda reads: [(e.camera_id, e) for e in store(reads)]
    return lambda reads: [(dedup_key(e, by), e) for e in store(reads)]  # type: ignore[arg-type]


def _keyed_reads(by: str) -> Callable[[list[PlateRead]], list[tuple[str, PlateRead]]]:
    """Reads keyed by the dedup key of their events (camera or site)."""
    if by == "camera":
        return lambda reads: [(r.read.camera_id, r) for r in reads]
    return lambda reads: [(r.read.site, r) for r in reads]


def _unkeyed_counted(step: str) -> Callable[[list[tuple[str, Any]]], list[Any]]:
    child = metrics.STEP_ITEMS.labels(step)

    def unkey(items: list[tuple[str, Any]]) -> list[Any]:
        child.inc(len(items))
        return [v for _, v in items]

    return unkey


def _matching(match: Callable[[PlateEvent], list[WatchlistHit]]) -> Callable[[list[PlateEvent]], list[WatchlistHit]]:
    child = metrics.STEP_ITEMS.labels("watchlist_hits")

    def hits(events: list[PlateEvent]) -> list[WatchlistHit]:
        out = [h for e in events for h in match(e)]
        child.inc(len(out))
        return out

    return hits


def build_flow(
    settings: Settings,
    source: Source[RawMessage] | None = None,
    sinks: FlowSinks | None = None,
    parts: FlowParts | None = None,
) -> Dataflow:
    """The plates dataflow; ``source``/``sinks``/``parts`` default to the production ones."""
    parts = parts or FlowParts.from_settings(settings)
    sinks = sinks or FlowSinks.from_settings(settings)
    flow = Dataflow("plates")

    raw = op.input("crops_in", flow, source or crop_source(settings))
    # KafkaSourceMessage[bytes | None, bytes | None] | KafkaError   (Avro PlateCrop values)
    decoded = op.flat_map_batch("decode", raw, _keyed(parts.decode))
    # (camera:track, PlateCrop) | DeadLetter
    crops = op.branch("decoded_ok", decoded, _is_keyed_crop)
    # .trues: (camera:track, PlateCrop), .falses: DeadLetter
    if sinks.dead_letters is not None:
        op.output("dead_letters_out", crops.falses, sinks.dead_letters)

    closed = op.stateful_batch("best_shot", crops.trues, TrackWindow.builder(parts.window))
    # (camera:track, ClosedTrack)   a provisional copy early, the final one when the track closes
    read = op.flat_map_batch("ocr", closed, _counting("best_shot", parts.ocr))
    # (camera:track, TrackReads)    one OcrRead per kept crop
    keep = _hits_only(parts.match) if settings.flow.provisional.publish == "hits" else None
    checked = op.flat_map_batch("vote_validate", read, _vote_and_validate(parts.vote, parts.validate, keep))
    # PlateRead | RejectedRead   (provisional ones only on watchlist hits, with publish: hits)
    plates = op.branch("valid", checked, _is_plate)
    # .trues: PlateRead, .falses: RejectedRead
    if sinks.rejected is not None:
        op.output("rejected_out", plates.falses, sinks.rejected)

    if parts.upload is None:
        stored = op.flat_map_batch(
            "store_crop", plates.trues, _keyed_for_dedup(parts.store_crops, parts.dedup.by)
        )
    else:  # uploads overlap with the rest of the flow; events leave once their crop is stored
        to_store = op.flat_map_batch("key_reads", plates.trues, _keyed_reads(parts.dedup.by))
        stored = op.stateful("store_crop", to_store, CropUploads.builder(parts.upload))
    # (camera or site, PlateEvent)   one sighting, best crop uploaded, crop_key/crop_url set
    merged = op.stateful("dedup", stored, DedupLogic.builder(parts.dedup, parts.erased, parts.discard_crop))
    # (camera or site, PlateEvent)   a new event, or an update of a recent one (same event_id)
    events = op.flat_map_batch("unkey_dedup", merged, _unkeyed_counted("events"))
    # PlateEvent
    if sinks.events is not None:
        op.output("events_db", events, timed(sinks.events, metrics.FRAME_TO_DB_SECONDS, lambda e: e.frame_ts))
    if sinks.plate_events is not None:
        op.output("events_kafka", events, sinks.plate_events)

    hits = op.flat_map_batch("watchlist", events, _matching(parts.match))
    # WatchlistHit   one per matching entry; an update re-raises the same alert_id
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
