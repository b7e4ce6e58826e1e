"""What ``flows.plates`` is built from: the steps' callables and the sinks, from settings.

:class:`FlowParts` holds the step functions (decoder, OCR, validator, crop store, dedup,
watchlist matching) and :class:`FlowSinks` the outputs. Both default to the production
ones built from :class:`~config.settings.Settings`; tests swap any of them (e.g. bytewax
``TestingSink`` for the sinks). Building either connects to nothing: clients open on first
use or in a sink's ``build()``, when the dataflow runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition
from prometheus_client import Histogram

from config.settings import Settings
from flows import metrics
from flows.ocr_step import CropReader, OcrStep, TrackReads
from flows.source import CropDecoder, Decoded, RawMessage
from flows.tracks import WindowConfig
from operators.best_shot import vote_track
from operators.dedup import DedupRules
from operators.erasure import ErasedPlates
from operators.records import DeadLetter, PlateEvent, PlateRead, RejectedRead, TrackRead, WatchlistHit
from operators.validate import PlateValidator
from operators.watchlist import Watchlist

T = TypeVar("T")


class Lazy(Generic[T]):
    """A value built on first use, once per process (thread-safe)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value


@dataclass(frozen=True)
class Voter:
    """``TrackReads -> TrackRead``: best-shot voting (:func:`operators.best_shot.vote_track`)."""

    align: bool = True

    def __call__(self, item: TrackReads) -> TrackRead:
        return vote_track(item.track.buffer, item.reads, provisional=item.track.provisional, align=self.align)


@dataclass(frozen=True)
class WatchlistMatcher:
    """``PlateEvent -> [WatchlistHit]`` against the current index (``index()`` may reload it).

    Expiry is judged at the event's newest sighting (event time).
    """

    index: Callable[[], Watchlist]

    def __call__(self, event: PlateEvent) -> list[WatchlistHit]:
        return self.index().hits(event, event.last_seen)


def events_without_crops(reads: Sequence[PlateRead]) -> list[PlateEvent]:
    """Crop store stand-in for flows run without object storage: events carry no crop."""
    return [PlateEvent.from_read(r) for r in reads]


@dataclass(frozen=True)
class FlowParts:
    """The step functions of the flow."""

    decode: Callable[[list[RawMessage]], list[Decoded]]
    window: WindowConfig
    ocr: Callable[[list[tuple[str, Any]]], list[tuple[str, TrackReads]]]
    vote: Callable[[TrackReads], TrackRead]
    validate: Callable[[TrackRead], PlateRead | RejectedRead]
    store_crops: Callable[[list[PlateRead]], list[PlateEvent]]
    dedup: DedupRules
    match: Callable[[PlateEvent], list[WatchlistHit]]
    #: When set, crops upload in the background (:mod:`flows.crop_step`) instead of through
    #: ``store_crops`` (which blocks the worker for each batch's uploads).
    upload: Callable[[PlateRead], Future[PlateEvent]] | None = None
    #: The plates erased so far (:mod:`flows.erasures`) and how to delete a crop of one.
    erased: Callable[[], ErasedPlates] | None = None
    discard_crop: Callable[[str], None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        decode: Callable[[list[RawMessage]], list[Decoded]] | None = None,
        store_crops: Callable[[list[PlateRead]], list[PlateEvent]] | None = None,
        watchlist: Callable[[], Watchlist] | None = None,
        reader: CropReader | None = None,
    ) -> FlowParts:
        """Production parts; any of the I/O ones can be given instead."""
        flow = settings.flow
        if decode is None:
            decode = CropDecoder.from_settings(settings)
        # Reads decoded under the plate formats get no confusion fixes afterwards; a reader given
        # by the caller may be a raw engine, so its reads keep them.
        decoded = reader is None and settings.ocr.syntax.enabled
        if reader is None:
            from ocr.syntax import load_reader

            reader = CropReader(lambda: load_reader(settings), settings.ocr.batch_size)
        if watchlist is None:
            watchlist = _db_watchlist(settings)
        match = WatchlistMatcher(watchlist)
        upload = discard = None
        if store_crops is None:
            crop_store = _crop_store(settings)
            store_crops = _s3_store(crop_store, provisional_crop=lambda e: bool(match(e)))
            upload = _s3_uploads(crop_store, provisional_crop=lambda e: bool(match(e)))
            discard = lambda key: crop_store().delete(key)  # noqa: E731
        return cls(
            decode=decode,
            window=WindowConfig.from_settings(flow),
            ocr=OcrStep(reader),
            vote=Voter(flow.best_shot.align_off_by_one),
            validate=PlateValidator.from_settings(flow.plates, decoded=decoded).validate,
            store_crops=store_crops,
            dedup=DedupRules.from_settings(flow).with_max_future(settings.limits.max_future_s),
            match=match,
            upload=upload,
            erased=_db_erasures(settings),
            discard_crop=discard,
        )


#: Concurrent crop uploads per process (local SeaweedFS: ~570/s with 4, ~820/s with 16).
S3_UPLOAD_THREADS = 16


def _crop_store(settings: Settings) -> Lazy[Any]:
    def make() -> Any:
        from flows.crop_retries import CropRetries
        from flows.sinks.dead_letters import KafkaDeadLetterPublisher
        from flows.sinks.s3 import CropStore

        retries = CropRetries(settings.database.url.get_secret_value(), poll_s=settings.flow.crop_retry_s)
        return CropStore(
            settings.s3,
            dead_letters=KafkaDeadLetterPublisher(settings),
            workers=S3_UPLOAD_THREADS,
            retries=retries,
        )

    return Lazy(make)


def _s3_store(
    store: Lazy[Any], provisional_crop: Callable[[PlateEvent], bool] | None = None
) -> Callable[[list[PlateRead]], list[PlateEvent]]:
    """Crop store step: the final read of each track stores its best crop; a provisional read
    only when ``provisional_crop`` says so (a watchlist hit: its alert shows the image), which
    halves the uploads (the bottleneck of the flow)."""
    return lambda reads: store().events_from_reads(reads, provisional_crop=provisional_crop)


def _s3_uploads(
    store: Lazy[Any], provisional_crop: Callable[[PlateEvent], bool] | None = None
) -> Callable[[PlateRead], Future[PlateEvent]]:
    """:func:`_s3_store` as background uploads (:class:`flows.crop_step.BackgroundUploads`)."""
    from flows.crop_step import BackgroundUploads

    return BackgroundUploads(store, threads=S3_UPLOAD_THREADS, provisional_crop=provisional_crop)


def _db_erasures(settings: Settings) -> Callable[[], ErasedPlates]:
    """The plates erased so far, from the ``erasures`` table (one poller per process)."""

    def current() -> ErasedPlates:
        from flows.erasures import shared_watch

        secret = settings.api.privacy.secret
        return shared_watch(
            settings.database.url.get_secret_value(),
            settings.flow.erasures_poll_s,
            secret.get_secret_value().encode() if secret else None,
        ).current

    return current


def _db_watchlist(settings: Settings) -> Callable[[], Watchlist]:
    def current() -> Watchlist:
        from flows.watchlists import shared_store

        url = settings.database.url.get_secret_value()
        return shared_store(url, settings.flow.watchlists.reload_s).current

    return current


@dataclass(frozen=True)
class FlowSinks:
    """Where the flow's streams go; ``None`` leaves an output out."""

    dead_letters: Sink[DeadLetter] | None
    rejected: Sink[RejectedRead] | None
    events: Sink[PlateEvent] | None
    plate_events: Sink[PlateEvent] | None = None
    alerts: Sink[WatchlistHit] | None = None
    alerts_topic: Sink[WatchlistHit] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FlowSinks:
        """PostgreSQL (events, rejected reads, alerts + delivery), Kafka (events, alerts, dead letters)."""
        from flows.kafka_out import alerts_topic_sink, dead_letter_sink, plate_events_sink
        from flows.sinks.alerts import AlertSink
        from flows.sinks.dead_letters import KafkaDeadLetterPublisher
        from flows.sinks.postgres import PlateEventSink, RejectedReadSink
        from flows.sinks.s3 import crop_presigner

        url = settings.database.url.get_secret_value()
        dead = KafkaDeadLetterPublisher(settings)
        return cls(
            dead_letters=dead_letter_sink(settings),
            rejected=RejectedReadSink(url, dead_letters=dead),
            events=PlateEventSink(url, dead_letters=dead, pool_size=settings.database.pool_size),
            plate_events=plate_events_sink(settings, dead),
            alerts=AlertSink(
                url,
                settings.flow.alerts,
                dead_letters=dead,
                alerts_topic=settings.kafka.topics.alerts,
                presign=crop_presigner(settings.s3, settings.flow.alerts.image_link_s),
            ),
            alerts_topic=alerts_topic_sink(settings, dead),
        )


# --- latency-measuring sink wrapper -------------------------------------------------------


class _TimedPartition(StatelessSinkPartition[T]):
    def __init__(
        self, inner: StatelessSinkPartition[T], histogram: Histogram, frame_ts: Callable[[T], datetime]
    ):
        self._inner = inner
        self._histogram = histogram
        self._frame_ts = frame_ts

    def write_batch(self, items: list[T]) -> None:
        self._inner.write_batch(items)
        metrics.observe_latency(self._histogram, (self._frame_ts(i) for i in items))

    def close(self) -> None:
        self._inner.close()


class TimedSink(DynamicSink[T]):
    """Wraps a ``DynamicSink``: after each batch is written, observe frame-to-now per item."""

    def __init__(
        self, inner: DynamicSink[T], histogram: Histogram, frame_ts: Callable[[T], datetime]
    ) -> None:
        self._inner = inner
        self._histogram = histogram
        self._frame_ts = frame_ts

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TimedPartition[T]:
        return _TimedPartition(
            self._inner.build(step_id, worker_index, worker_count), self._histogram, self._frame_ts
        )


def timed(sink: Sink[T] | None, histogram: Histogram, frame_ts: Callable[[T], datetime]) -> Sink[T] | None:
    """``sink`` measured with :class:`TimedSink` when it is a ``DynamicSink``, else as is."""
    if isinstance(sink, DynamicSink):
        return TimedSink(sink, histogram, frame_ts)
    return sink
