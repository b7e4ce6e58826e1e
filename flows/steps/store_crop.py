"""The ``store_crop`` step: each plate read's best crop stored, its event keyed for dedup.

:func:`stream` wires it. With object storage (production) uploads overlap with the rest of the
flow (below); with a synchronous ``store`` (``events_without_crops``, tools and tests) each batch
of reads becomes events in one call.

Overlapped: best crops upload in the background, events leave in order.

Uploading a crop to S3 takes milliseconds of waiting (local SeaweedFS: ~700-1,000 PUTs/s with
16 concurrent requests); waiting for each batch's uploads stalled the whole worker. Here a
read's upload starts when the read arrives and the worker goes on (decoding, windowing,
OCR, the sinks of earlier events); :class:`CropUploads` holds the reads of one key (the
dedup key: camera or site) until their uploads are done and then emits their events, in
arrival order, to dedup and the sinks. So an event never reaches the database, Kafka or an
alert before its crop is stored: its URL never dangles.

- **At-least-once**: the reads still uploading are the logic's snapshot; after a restart
  they are uploaded again (same key: an overwrite) and emitted.
- **Back-pressure**: at most ``max_in_flight`` uploads per process; a worker that would
  start one more waits for one to finish (as the synchronous step did for all of them).
- **Upload failures** are :class:`~flows.sinks.s3.CropStore`'s: retries, then the event goes
  on without a crop and the crop to the dead-letter topic.
- Polling: while uploads are pending the logic asks to be woken every ``poll_s``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax import operators as op
from bytewax.dataflow import Stream
from bytewax.operators import KeyedStream, StatefulLogic

from operators.dedup import dedup_key
from operators.records import PlateEvent, PlateRead

Submit = Callable[[PlateRead], "Future[PlateEvent]"]
Store = Callable[[list[PlateRead]], list[PlateEvent]]


def events_without_crops(reads: Sequence[PlateRead]) -> list[PlateEvent]:
    """Crop store stand-in for flows run without object storage: events carry no crop."""
    return [PlateEvent.from_read(r) for r in reads]


@dataclass(frozen=True)
class StoreCrop:
    """How the step stores crops: ``upload`` (background, per read) or else ``store`` (per batch);
    ``by`` is the dedup key of the events (``camera`` or ``site``, ``flow.dedup.by``)."""

    store: Store
    by: str
    upload: Submit | None = None

    def keyed_events(self, reads: list[PlateRead]) -> list[tuple[str, PlateEvent]]:
        """Store the best crops of a batch of reads; the events come out keyed for dedup."""
        if self.by == "camera":
            return [(e.camera_id, e) for e in self.store(reads)]
        return [(dedup_key(e, self.by), e) for e in self.store(reads)]  # type: ignore[arg-type]

    def keyed_reads(self, reads: list[PlateRead]) -> list[tuple[str, PlateRead]]:
        """Reads keyed by the dedup key of their events (camera or site)."""
        if self.by == "camera":
            return [(r.read.camera_id, r) for r in reads]
        return [(r.read.site, r) for r in reads]


def stream(step_id: str, reads: Stream[PlateRead], step: StoreCrop) -> KeyedStream[PlateEvent]:
    """``PlateRead -> (camera or site, PlateEvent)``: one step ``step_id`` (with uploads, a keying
    step ``<step_id>_keys`` before it); an event leaves once its crop is stored."""
    if step.upload is None:
        return op.flat_map_batch(step_id, reads, step.keyed_events)
    keyed = op.flat_map_batch(f"{step_id}_keys", reads, step.keyed_reads)
    return op.stateful(step_id, keyed, CropUploads.builder(step.upload))


def _system_utc() -> datetime:
    return datetime.now(UTC)


def done(event: PlateEvent) -> Future[PlateEvent]:
    """A future that already holds ``event`` (a read that needs no upload)."""
    f: Future[PlateEvent] = Future()
    f.set_result(event)
    return f


class BackgroundUploads:
    """``read -> Future[PlateEvent]``: the event of a read once its best crop is stored.

    ``store`` is a :class:`~flows.sinks.s3.CropStore` factory (built on first use, once per
    process). With ``provisional_crop``, a provisional read stores its crop only when it says
    so (watchlist hits); other provisional reads need no upload (see ``CropStore``).
    """

    def __init__(
        self,
        store: Callable[[], Any],
        *,
        threads: int = 16,
        max_in_flight: int = 256,
        provisional_crop: Callable[[PlateEvent], bool] | None = None,
    ) -> None:
        self._store = store
        self._threads = threads
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._provisional_crop = provisional_crop
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="alpr-crops")
        return self._pool

    def __call__(self, read: PlateRead) -> Future[PlateEvent]:
        if read.read.provisional and self._provisional_crop is not None:
            event = PlateEvent.from_read(read)
            if not self._provisional_crop(event):
                return done(event)
        store = self._store()
        self._slots.acquire()  # back-pressure: wait while max_in_flight uploads run
        try:
            future = self._executor().submit(store.event_from_read, read)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        return future


class CropUploads(StatefulLogic[PlateRead, PlateEvent, tuple[PlateRead, ...]]):
    """Per key: start each read's upload, emit the events whose uploads (and all earlier
    ones) are done; see the module docstring."""

    def __init__(
        self,
        submit: Submit,
        resume: tuple[PlateRead, ...] | None = None,
        *,
        poll_s: float = 0.002,
        now: Callable[[], datetime] = _system_utc,
    ) -> None:
        self._submit = submit
        self._poll = timedelta(seconds=poll_s)
        self._now = now
        # Restored reads were maybe never uploaded: upload them again (idempotent).
        self._pending: list[tuple[PlateRead, Future[PlateEvent]]] = [(r, submit(r)) for r in resume or ()]

    @classmethod
    def builder(cls, submit: Submit, poll_s: float = 0.002) -> Callable[[tuple[PlateRead, ...] | None], CropUploads]:
        """The ``op.stateful`` builder."""
        return lambda resume: cls(submit, resume, poll_s=poll_s)

    def _release(self) -> tuple[list[PlateEvent], bool]:
        pending = self._pending
        n = 0
        while n < len(pending) and pending[n][1].done():
            n += 1
        out = [f.result() for _, f in pending[:n]]
        del pending[:n]
        return out, (StatefulLogic.RETAIN if pending else StatefulLogic.DISCARD)

    def on_item(self, value: PlateRead) -> tuple[list[PlateEvent], bool]:
        self._pending.append((value, self._submit(value)))
        return self._release()

    def on_notify(self) -> tuple[list[PlateEvent], bool]:
        return self._release()

    def on_eof(self) -> tuple[list[PlateEvent], bool]:
        out = [f.result() for _, f in self._pending]  # the end of the input: wait for all
        self._pending = []
        return out, StatefulLogic.DISCARD

    def notify_at(self) -> datetime | None:
        return self._now() + self._poll if self._pending else None

    def snapshot(self) -> tuple[PlateRead, ...]:
        return tuple(r for r, _ in self._pending)
