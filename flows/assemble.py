"""What ``flows.plates`` is built from: its steps and its sinks, from settings.

:class:`FlowSteps` holds one object per step, each from its module in ``flows/steps/``
(``decode``, ``best_shot``, ``ocr``, ``vote``, ``region``, ``store_crop``, ``dedup``, ``watchlist``), and
:class:`FlowSinks` the outputs (``flows/sinks/``). Both default to the production ones built
from :class:`~config.settings.Settings`; tests and tools swap the I/O ones (e.g. bytewax
``TestingSink`` for the sinks). Building either connects to nothing: clients open on first
use or in a sink's ``build()``, when the dataflow runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bytewax.outputs import Sink

from config.settings import Settings
from flows.source import RawMessage
from flows.steps.best_shot import WindowConfig
from flows.steps.decode import CropDecoder, Decode, Decoded
from flows.steps.dedup import DedupConfig
from flows.steps.ocr import CropReader, OcrStep
from flows.steps.region import Region
from flows.steps.store_crop import BackgroundUploads, Store, StoreCrop, Submit
from flows.steps.vote import Vote
from flows.steps.watchlist import Match, WatchlistMatcher, hits_only
from operators.dedup import DedupRules
from operators.erasure import ErasedPlates
from operators.records import DeadLetter, PlateEvent, RejectedRead, WatchlistHit
from operators.validate import ScopedValidator
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
class FlowSteps:
    """The steps of the flow, in the order a crop takes them."""

    decode: Decode
    best_shot: WindowConfig
    ocr: OcrStep
    vote: Vote
    region: Region
    store_crop: StoreCrop
    dedup: DedupConfig
    watchlist: Match

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        decode: Callable[[list[RawMessage]], list[Decoded]] | None = None,
        store_crops: Store | None = None,
        watchlist: Callable[[], Watchlist] | None = None,
        reader: CropReader | None = None,
        reads_decoded: bool | None = None,
    ) -> FlowSteps:
        """Production steps; any of the I/O parts can be given instead (``store_crops``: a
        synchronous crop store such as :func:`flows.steps.store_crop.events_without_crops`).
        ``reads_decoded``: whether a given ``reader``'s reads are decoded under the plate formats
        (:func:`ocr.syntax.load_reader`, as the production reader's are); default: not."""
        flow = settings.flow
        if decode is None:
            decode = CropDecoder.from_settings(settings)
        # Reads decoded under the plate formats get no confusion fixes afterwards; a reader given
        # by the caller may be a raw engine, so its reads keep them unless it says otherwise.
        if reader is None:
            from ocr.syntax import load_reader

            reader = CropReader(lambda: load_reader(settings), settings.ocr.batch_size)
            decoded = settings.ocr.syntax.enabled
        else:
            decoded = bool(reads_decoded)
        if watchlist is None:
            watchlist = _db_watchlist(settings)
        match = WatchlistMatcher(watchlist)
        upload: Submit | None = None
        discard = None
        if store_crops is None:
            crop_store = _crop_store(settings)
            store_crops = _s3_store(crop_store, provisional_crop=lambda e: bool(match(e)))
            upload = _s3_uploads(crop_store, provisional_crop=lambda e: bool(match(e)))
            discard = lambda key: crop_store().delete(key)  # noqa: E731
        rules = DedupRules.from_settings(flow).with_max_future(settings.limits.max_future_s)
        validators = ScopedValidator(flow.plates, decoded=decoded)
        return cls(
            decode=Decode(decode),
            best_shot=WindowConfig.from_settings(flow),
            ocr=OcrStep(reader),
            vote=Vote(
                validators.validate,
                align=flow.best_shot.align_off_by_one,
                keep=hits_only(match) if flow.provisional.publish == "hits" else None,
            ),
            region=Region(validators),
            store_crop=StoreCrop(store_crops, rules.by, upload),
            dedup=DedupConfig(rules, _db_erasures(settings), discard),
            watchlist=Match(match),
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


def _s3_store(store: Lazy[Any], provisional_crop: Callable[[PlateEvent], bool] | None = None) -> Store:
    """Crop store step: the final read of each track stores its best crop; a provisional read
    only when ``provisional_crop`` says so (a watchlist hit: its alert shows the image), which
    halves the uploads (the bottleneck of the flow)."""
    return lambda reads: store().events_from_reads(reads, provisional_crop=provisional_crop)


def _s3_uploads(store: Lazy[Any], provisional_crop: Callable[[PlateEvent], bool] | None = None) -> Submit:
    """:func:`_s3_store` as background uploads (:class:`flows.steps.store_crop.BackgroundUploads`)."""
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
        from flows.sinks.alerts import AlertSink
        from flows.sinks.dead_letters import KafkaDeadLetterPublisher
        from flows.sinks.kafka import alerts_topic_sink, dead_letter_sink, plate_events_sink
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
