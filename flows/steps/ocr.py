"""The ``ocr`` step: read every crop of the closed tracks a worker holds, in engine batches.

Runs as ``op.flat_map_batch`` so one call sees all the tracks that closed in one activation
of the worker; their crops are decoded (cv2) and handed to the engine ``ocr.batch_size`` at
a time. A crop that does not decode gets an empty read (it then loses every vote, and a
track with no readable crop ends as a rejected read), so nothing is silently dropped.

The engine is built lazily, once per process (workers are threads of one process and the
engines are stateless between calls), from ``settings`` through ``ocr.syntax.load_reader``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from flows import metrics
from flows.steps.best_shot import ClosedTrack
from ocr.base import OcrEngine, OcrError, OcrResult
from ocr.syntax import SyntaxReader
from operators.records import OcrRead, PlateCrop

log = logging.getLogger(__name__)

_EMPTY_IMAGE = np.zeros((0, 0, 3), dtype=np.uint8)


def decode_image(crop: PlateCrop, *, half: bool = False) -> np.ndarray | None:
    """The crop as a BGR uint8 array ``(h, w, 3)``, or None when its bytes do not decode;
    ``half``: at half its size (JPEG's own scaling, cheaper than decoding it whole)."""
    if not crop.image:
        return None
    flag = cv2.IMREAD_REDUCED_COLOR_2 if half else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(crop.image, dtype=np.uint8), flag)
    if image is None or image.size == 0:
        return None
    return image


def to_read(crop: PlateCrop, result: OcrResult) -> OcrRead:
    """Convert an engine result to the flow's record for one crop.

    Engines give one confidence per non-separator character; the record wants one per
    character of ``text``, so separators are dropped from the text when that makes the two
    agree, and per-character confidences are dropped when nothing does.
    """
    text, chars = result.text, tuple(result.char_confidences)
    if chars and len(chars) != len(text):
        kept = "".join(ch for ch in text if ch.isalnum())
        if len(kept) == len(chars):
            text = kept
        else:
            chars = ()
    return OcrRead.make(crop.crop_id, text, result.confidence, chars)


class CropReader:
    """Read crops with an engine built on first use; thread-safe to share between workers."""

    def __init__(self, make_engine: Callable[[], OcrEngine], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"ocr step: batch_size must be >= 1, got {batch_size!r}")
        self._make_engine = make_engine
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()
        self.batch_size = batch_size

    @property
    def engine(self) -> OcrEngine:
        """The engine (built on first access)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._make_engine()
        return self._engine

    def read(self, crops: Sequence[PlateCrop]) -> list[OcrRead]:
        """One read per crop, in order; undecodable crops read as empty text."""
        reads: list[OcrRead] = []
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start : start + self.batch_size]
            # A no-plate crop is a whole vehicle: nothing to read (it reads as empty).
            images = [None if c.no_plate else decode_image(c) for c in chunk]
            readable = [i for i, img in enumerate(images) if img is not None]
            results: dict[int, OcrResult] = {}
            if readable:
                t0 = time.perf_counter()
                out = self._read_images([images[i] for i in readable], [chunk[i] for i in readable])
                seconds = time.perf_counter() - t0
                results = dict(zip(readable, out, strict=True))
                metrics.OCR_BATCH_SECONDS.observe(seconds)
                metrics.OCR_BATCH_SIZE.observe(len(readable))
                per_crop = seconds / len(readable)
                for _ in readable:
                    metrics.OCR_CROP_SECONDS.observe(per_crop)
            for i, crop in enumerate(chunk):
                result = results.get(i)
                if result is None:
                    log.debug("ocr step: crop %s does not decode as %s", crop.crop_id, crop.image_format)
                    result = OcrResult.empty()
                reads.append(to_read(crop, result))
        return reads

    def _read(self, images: list[np.ndarray], crops: list[PlateCrop]) -> list[OcrResult]:
        """The engine's results, each decoded under its crop's site's or camera's formats when the
        engine decodes under plate formats (``flow.plates.sites``, ``flow.plates.cameras``)."""
        engine = self.engine
        if isinstance(engine, SyntaxReader):
            return engine.read_at(images, [(c.site, c.camera_id) for c in crops])
        return engine.read(images)

    def _read_images(self, images: list[np.ndarray], crops: list[PlateCrop]) -> list[OcrResult]:
        """The engine's results; a batch the engine fails on is read crop by crop, and a crop it
        still fails on reads as empty (logged), so one bad crop never stops the flow. Setup
        problems (:class:`~ocr.base.OcrError`) are raised."""
        name = type(self.engine).__name__
        try:
            out = self._read(images, crops)
            if len(out) == len(images):
                return out
            log.error("ocr step: engine %s returned %d results for %d crops", name, len(out), len(images))
        except OcrError:
            raise
        except Exception:
            log.exception("ocr step: engine %s failed on a batch of %d crops; reading one by one", name, len(images))
        results = []
        for image, crop in zip(images, crops, strict=True):
            try:
                one = self._read([image], [crop])
                results.append(one[0] if len(one) == 1 else OcrResult.empty())
            except OcrError:
                raise
            except Exception:
                log.exception("ocr step: engine %s failed on crop %s; it reads as empty", name, crop.crop_id)
                metrics.OCR_FAILURES.inc()
                results.append(OcrResult.empty())
        return results


@dataclass(frozen=True, slots=True)
class TrackReads:
    """A closed (or provisional) track and one OCR read per kept crop, in the buffer's order."""

    track: ClosedTrack
    reads: tuple[OcrRead, ...]


class OcrStep:
    """``op.flat_map_batch`` mapper: ``[(key, ClosedTrack)] -> [(key, TrackReads)]``.

    All crops of all tracks in the batch go to the engine together, so batches fill up
    when many tracks close at once; the reads are then handed back to their tracks.

    The reads of a provisional track's crops are kept (at most ``cache_size``, oldest
    dropped first) for its final read, which keeps most of the same crops: each crop is
    read once, not once per read of its track. The final read takes its crops' reads out
    of the cache. A restart starts with an empty cache (those crops are read again, with
    the same result).
    """

    def __init__(self, reader: CropReader, cache_size: int = 10_000) -> None:
        self._reader = reader
        self._cache_size = cache_size
        # track key -> {crop id: read} of its provisional read; insertion-ordered (FIFO eviction)
        self._cache: dict[str, dict[str, OcrRead]] = {}
        self._lock = threading.Lock()  # the workers (threads) of a process share the step

    def __call__(self, items: list[tuple[str, ClosedTrack]]) -> list[tuple[str, TrackReads]]:
        cache = self._cache
        with self._lock:  # a final read takes its track's reads out of the cache
            cached = [cache.get(key) if track.provisional else cache.pop(key, None) for key, track in items]
        todo: list[PlateCrop] = []
        for (_, track), known in zip(items, cached, strict=True):
            crops = track.buffer.crops
            todo.extend(crops if known is None else (c for c in crops if c.crop_id not in known))
        fresh = iter(self._reader.read(todo) if todo else ())
        out: list[tuple[str, TrackReads]] = []
        keep: dict[str, dict[str, OcrRead]] = {}
        # Crops are read in the order of ``todo``: hand the reads out in that same order.
        for (key, track), known in zip(items, cached, strict=True):
            reads = tuple(
                known[c.crop_id] if known is not None and c.crop_id in known else next(fresh)
                for c in track.buffer.crops
            )
            if track.provisional:
                keep[key] = {c.crop_id: r for c, r in zip(track.buffer.crops, reads, strict=True)}
            else:
                keep.pop(key, None)  # closed in this same batch: nothing to keep
            out.append((key, TrackReads(track, reads)))
        if keep and self._cache_size > 0:
            with self._lock:
                cache.update(keep)
                extra = len(cache) - self._cache_size
                if extra > 0:
                    for k in list(itertools.islice(cache, extra)):
                        del cache[k]
        return out
