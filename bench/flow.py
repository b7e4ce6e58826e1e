"""Benchmark of the plates dataflow on the real local services, with real-size JPEG crops.

    python bench/flow.py [--quick] [--json] [--crops N] [--workers W] [--crop-source clip|openalpr]
                         [--ocr-crops N] [--reuse]

Starts its own broker (memory), S3 store and schema registry on free loopback ports (or,
with ``--reuse``, uses the stack of the default settings), and a fresh, migrated database
on the configured PostgreSQL server (dropped at the end).

The crops are real JPEGs cut by the edge's own code: by default the crops ``alpr edge``
publishes for the sample clip (samples/alizahidraja_70.mp4: detector, tracker, crop selection,
JPEG at the edge's quality); with ``--crop-source openalpr``, the labelled plates of the
openalpr-us photos in ``../shared/data`` cut with the edge's padding and JPEG encoding (read
at run time, never copied). Each bench track of 10 crops cycles through them
(``crop_bytes_mean`` in the JSON). Then, in one run:

1. **Throughput, OCR excluded** (``ocr: "excluded"``): N crops (tracks of 10) are produced to a
   fresh topic; a raw confluent-kafka consumer reads the topic end to end
   (``raw_consume_per_s``), then again decoding each message with the flow's own decoder
   (``consume_decode_per_s``: the ceiling of any Python flow that decodes every crop); then the
   whole flow (``flows.plates.build_flow``: decode, best shot, OCR step, vote, validate, S3
   crop upload, dedup, watchlist, PostgreSQL, Kafka and alert sinks) replays the same topic
   (``crops_per_s_per_worker``), then again without S3 (``no_s3_*``). The raw PUT rate of the
   S3 store for the same crops (``raw_s3_put_per_s``) times the crops per track bounds the first
   figure (``s3_bound_*``). "OCR excluded": the OCR step runs the bench-only reader
   :class:`LabelReader`, which returns the plate the bench gave the track instead of reading
   the image; every other step, the OCR step's batching and image bytes included, is the
   production one.
2. **Throughput with real OCR**: the same flow with the configured engine (``ocr.type``, the
   default unless overridden by ``ALPR_OCR__TYPE``) on fewer crops (``--ocr-crops``):
   ``real_ocr_crops_per_s_per_worker``, its engine in ``real_ocr`` (``real_ocr_cascade``: the
   member that reads first when the ensemble runs as a cascade, ``ocr.ensemble.cascade``).
3. **DB writes**: upserted rows per second of write time in the flow's PostgreSQL event
   sink (phase 1), against a raw ``COPY`` of as many rows into ``plate_events`` in the same run.
4. **Latency, OCR excluded**: the flow runs as a tailing process; tracks are produced in real
   time (10 crops per track at 30 fps, every plate on a watchlist); a local webhook receiver
   records each alert. Frame-to-alert = receipt time minus the frame time of the crop that
   made the provisional read (``flow.provisional.min_crops``-th crop).
5. **OCR alone**: the configured engine through the OCR step's reader on the same crops, its
   reads decoded under the plate formats as the flow's are (``ocr.syntax.load_reader``):
   ``ocr_crops_per_s_per_core`` (crops per CPU second of this process) and ms per crop.

``targets_met`` names what each target was measured on. ``--json`` prints one JSON object on
stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import random
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # first: bench/edge.py must not shadow the edge package

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from config.load import write_settings  # noqa: E402
from config.settings import Settings  # noqa: E402
from flows.steps.ocr import CropReader  # noqa: E402
from operators.records import OcrRead, PlateCrop  # noqa: E402

log = logging.getLogger("bench.flow")

CROPS_PER_TRACK = 10
CAMERAS = 8
SAMPLE = ROOT / "samples" / "alizahidraja_70.mp4"
SHARED_DATA = Path(os.environ.get("ALPR_SHARED_DATA") or ROOT / ".." / "shared" / "data")


# --- the bench-only OCR step reader -----------------------------------------------------------


class LabelReader(CropReader):
    """BENCH ONLY: the OCR step's reader without OCR. The bench names each track ``...-PLATE``;
    the read of each of its crops is that plate, confidence 0.99 per character (the image bytes
    still travel through every step, and are uploaded to S3)."""

    def __init__(self) -> None:
        super().__init__(lambda: None, batch_size=64)  # type: ignore[arg-type,return-value]

    def read(self, crops: Sequence[PlateCrop]) -> list[OcrRead]:
        out = []
        for c in crops:
            text = c.track_id.rsplit("-", 1)[-1]
            out.append(
                OcrRead.make(c.crop_id, text, 0.99, (0.99,) * len(text))
                if text.isalnum()
                else OcrRead.make(c.crop_id, "", 0.0)
            )
        return out


# --- services -------------------------------------------------------------------------------


def _free_port(taken: set[int], offset: int = 0) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port in taken or (offset and (port + offset > 65535 or port + offset in taken)):
            continue
        if offset:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port + offset)) == 0:
                    continue
            taken.add(port + offset)
        taken.add(port)
        return port


@contextlib.contextmanager
def services(reuse: bool) -> Iterator[Settings]:
    """Settings of a running broker, registry and S3 (started here unless ``reuse``)."""
    from config.load import load_settings

    base = load_settings()
    if reuse:
        yield base
        return
    from config.settings import KafkaSettings, LocalPorts, LocalServicesSettings, S3Settings
    from services import stack
    from services.objectstore import GRPC_OFFSET

    run_dir = Path(tempfile.mkdtemp(prefix="alpr-bench-"))
    taken: set[int] = set()
    seaweed = {n: _free_port(taken, GRPC_OFFSET) for n in ("s3", "s3_master", "s3_volume", "s3_filer", "s3_admin")}
    others = {n: _free_port(taken) for n in ("broker", "registry", "postgres", "prometheus")}
    ports = LocalPorts(**seaweed, **others)
    settings = base.model_copy(
        update={
            "services": LocalServicesSettings(run_dir=run_dir, broker_storage="memory", ports=ports, prometheus=False),
            "kafka": KafkaSettings(
                **{
                    **base.kafka.model_dump(),
                    "bootstrap_servers": f"127.0.0.1:{ports.broker}",
                    "schema_registry_url": f"http://127.0.0.1:{ports.registry}",
                }
            ),
            "s3": S3Settings(
                **{
                    **base.s3.model_dump(),
                    "secret_key": base.s3.secret_key,
                    "endpoint": f"127.0.0.1:{ports.s3}",
                }
            ),
        }
    )
    names = ("s3", "broker", "registry")
    t0 = time.monotonic()
    reports = stack.up(settings, only=names, die_with_parent=True)
    bad = [f"{r.name}: {r.detail}" for r in reports if not r.ok]
    if bad:
        stack.down(settings, only=names)
        raise RuntimeError("bench: services did not start: " + "; ".join(bad))
    log.warning("services up in %.1f s (%s)", time.monotonic() - t0, run_dir)
    try:
        yield settings
    finally:
        stack.down(settings, only=names, grace_s=3.0)


@contextlib.contextmanager
def bench_database(settings: Settings) -> Iterator[str]:
    """A fresh, migrated database on the configured server, dropped at the end."""
    from db.connect import with_database
    from db.migrate import migrate

    server = os.environ.get("ALPR_TEST_DATABASE_URL") or settings.database.url.get_secret_value()
    name = f"alpr_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin_url = with_database(server, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- data -------------------------------------------------------------------------------------


def clip_crops(first: int = 50, last: int = 120) -> list[bytes]:
    """The JPEG crops ``alpr edge`` publishes for frames ``first..last`` of the sample clip (the car
    passes in frames 60-105): the edge's own detector, tracker, crop selection and encoding."""
    from config.edge import CameraSettings, DetectorSettings, EdgeSettings
    from edge.camera import Frame
    from edge.detect import load_detector
    from edge.pipeline import CameraPipeline

    detector = DetectorSettings(threads=1, providers=("CPUExecutionProvider",))
    camera = CameraSettings(id="bench", url=str(SAMPLE), fps_cap=30)
    pipe = CameraPipeline(
        camera, EdgeSettings(cameras=(camera,), detector=detector), site="bench", run_id="clip",
        detector=load_detector(detector),
    )  # fmt: skip
    cap = cv2.VideoCapture(str(SAMPLE))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    records = []
    for i in range(first, last):
        ok, image = cap.read()
        if not ok:
            break
        records += pipe.process(Frame("bench", i, i / 30.0, image))
    records += pipe.close(last / 30.0)
    cap.release()
    images = [r.image for r in records if getattr(r, "image", None)]
    if not images:
        raise RuntimeError(f"bench: the edge published no crop for {SAMPLE}")
    return images


def openalpr_crops() -> list[bytes]:
    """The labelled plate of each openalpr-us photo, padded and JPEG-encoded as the edge does."""
    import csv

    from config.edge import CropSettings
    from edge.crops import encode_jpeg, pad_box

    folder = SHARED_DATA / "openalpr-us"
    if not (folder / "labels.csv").is_file():
        raise SystemExit(f"bench: --crop-source openalpr needs {folder}/labels.csv")
    crop = CropSettings()
    images = []
    for row in csv.DictReader((folder / "labels.csv").open(encoding="utf-8")):
        frame = cv2.imread(str(folder / row["image"]))
        x, y, w, h = (float(row[k]) for k in "xywh")
        x1, y1, x2, y2 = pad_box((x, y, x + w, y + h), crop.padding, frame.shape[1], frame.shape[0])
        images.append(encode_jpeg(frame[y1:y2, x1:x2], crop.jpeg_quality))
    return images


def random_plate(rng: random.Random) -> str:
    """A 7-character US-style plate: LLL NNNN."""
    return "".join(rng.choices(string.ascii_uppercase.replace("O", "").replace("I", ""), k=3)) + "".join(
        rng.choices(string.digits, k=4)
    )


@functools.lru_cache(maxsize=4096)
def edge_band(image: bytes) -> str:
    """What an edge says of the European band in a crop it publishes (``PlateCrop.band``; the edge
    looks before JPEG, here the JPEG is decoded once per distinct image)."""
    from ocr.band import look_for_band

    return look_for_band(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)).value


def track_crops(
    plate: str, camera: str, track: str, start: datetime, images: Sequence[bytes], site: str = "bench"
) -> list[Any]:
    """One vehicle pass: CROPS_PER_TRACK real crops at 30 fps, quality rising; the track id ends in
    ``-PLATE`` (what :class:`LabelReader` reads)."""
    from operators.records import Box, PlateCrop

    offset = zlib.crc32(track.encode()) % len(images)
    return [
        PlateCrop(
            camera_id=camera,
            site=site,
            track_id=f"{track}-{plate}",
            crop_id=f"{camera}:{track}-{plate}:{i}",
            frame_index=i,
            frame_ts=start + timedelta(milliseconds=33 * i),
            published_ts=start + timedelta(milliseconds=33 * i + 5),
            bbox=Box(100, 200, 120, 40),
            frame_width=1920,
            frame_height=1080,
            det_confidence=0.9,
            quality=min(1.0, 0.3 + 0.05 * i),
            sharpness=100.0,
            image=images[(offset + i) % len(images)],
            image_format="jpg",
            band=edge_band(images[(offset + i) % len(images)]),
        )
        for i in range(CROPS_PER_TRACK)
    ]


def create_topics(settings: Settings, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    t = settings.kafka.topics
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=partitions if name == t.crops else 1, replication_factor=1)
            for name in (t.crops, t.plates, t.alerts, t.dead_letter)
        ]
    )
    for f in futures.values():
        f.result(timeout=30)


def with_topics(settings: Settings, tag: str, **flow: Any) -> Settings:
    """``settings`` with fresh topic names and flow overrides."""
    from config.settings import TopicSettings

    topics = TopicSettings(
        crops=f"bench-crops-{tag}",
        detections=f"bench-det-{tag}",
        plates=f"bench-plates-{tag}",
        alerts=f"bench-alerts-{tag}",
        dead_letter=f"bench-dlq-{tag}",
    )
    flow_data = {**settings.flow.model_dump(exclude={"alerts"}), "alerts": settings.flow.alerts, **flow}
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"topics": topics}),
            "flow": type(settings.flow).model_validate(flow_data),
            "metrics": settings.metrics.model_copy(update={"enabled": False}),
        }
    )


def encode_all(settings: Settings, crops: Sequence[Any]) -> list[tuple[bytes, bytes]]:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from schemas.serde import AvroEncoder

    enc = AvroEncoder(
        SchemaRegistryClient({"url": settings.kafka.schema_registry_url}),
        "plate_crop",
        settings.kafka.topics.crops,
    )
    return [(c.camera_id.encode(), enc.encode(c.to_avro())) for c in crops]


def produce(settings: Settings, messages: Sequence[tuple[bytes, bytes]], linger_ms: int = 20) -> float:
    """Produce and wait for every acknowledgement; return messages/s."""
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "linger.ms": linger_ms,
            "compression.type": settings.kafka.compression,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    t0 = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                p.produce(settings.kafka.topics.crops, key=key, value=value)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    if p.flush(120) != 0:
        raise RuntimeError("bench: produce did not complete")
    return len(messages) / (time.perf_counter() - t0)


def raw_consume(settings: Settings, expect: int, partitions: int, decode: bool = False) -> float:
    """Raw confluent-kafka consume rate of the crops topic, end to end (messages/s).

    With ``decode``, each message also goes through the flow's own decoder (Avro through the
    registry's schema, then the typed ``PlateCrop``): the ceiling of any flow that decodes
    every crop in Python, whatever else it does.
    """
    from confluent_kafka import Consumer, TopicPartition

    from schemas.serde import AvroDecoder, shared_registry_client

    c = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"bench-raw-{secrets.token_hex(3)}",
            "enable.auto.commit": False,
            "session.timeout.ms": settings.kafka.session_timeout_ms,
            "fetch.wait.max.ms": settings.flow.input.fetch_wait_ms,
        }
    )
    c.assign([TopicPartition(settings.kafka.topics.crops, p, 0) for p in range(partitions)])
    registry = shared_registry_client(settings.kafka.schema_registry_url)
    decoder = AvroDecoder(registry, reader_schema="plate_crop") if decode else None
    n = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + 300
    while n < expect and time.monotonic() < deadline:
        for msg in c.consume(1000, 1.0):
            if msg.error() is None:
                n += 1
                if decoder is not None:
                    PlateCrop.from_avro(decoder.decode(msg.value()))
    seconds = time.perf_counter() - t0
    c.close()
    if n < expect:
        raise RuntimeError(f"bench: raw consumer read {n} of {expect} messages")
    return n / seconds


def raw_s3_put(settings: Settings, n: int, threads: int, images: Sequence[bytes]) -> float:
    """Raw PUT rate of the bench's crops to the S3 store: the flow's own client (``CropStore.put_object``)
    from ``threads`` threads, without the flow.

    The flow uploads one crop per track (final reads; provisional ones only on watchlist
    hits), so ``CROPS_PER_TRACK`` times this rate bounds the whole flow's crops/s.
    """
    from concurrent.futures import ThreadPoolExecutor

    from flows.sinks.s3 import CropStore

    store = CropStore(settings.s3, workers=threads)
    store.ensure_bucket()
    tag = secrets.token_hex(3)

    def put(i: int) -> None:
        store.put_object(f"bench/{tag}/{i}.jpg", images[i % len(images)], {"Content-Type": "image/jpeg"})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(min(50, n))))  # warm-up: connections
        t0 = time.perf_counter()
        list(pool.map(put, range(n)))
        return n / (time.perf_counter() - t0)


# --- webhook receiver (latency) ----------------------------------------------------------------


class Receiver:
    """A minimal local webhook endpoint recording (receipt time, JSON body) of each alert."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                with receiver._lock:
                    receiver.received.append((at, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- phases ---------------------------------------------------------------------------------------


class _TimedEvents:
    """Wraps the PostgreSQL event sink to add up rows written and seconds spent writing."""

    def __init__(self, inner: Any) -> None:
        from bytewax.outputs import DynamicSink, StatelessSinkPartition

        self.rows = 0
        self.seconds = 0.0
        outer = self

        class Part(StatelessSinkPartition):
            def __init__(self, part: Any) -> None:
                self._part = part

            def write_batch(self, items: list[Any]) -> None:
                t0 = time.perf_counter()
                self._part.write_batch(items)
                outer.seconds += time.perf_counter() - t0
                outer.rows += len(items)

            def close(self) -> None:
                self._part.close()

        class Sink(DynamicSink):
            def build(self, step_id: str, worker_index: int, worker_count: int) -> Part:
                return Part(inner.build(step_id, worker_index, worker_count))

        self.sink = Sink()


def bench_tracks(
    settings: Settings, workers: int, n_crops: int, rng: random.Random, images: Sequence[bytes]
) -> tuple[Settings, list[str], list[tuple[bytes, bytes]]]:
    """Fresh topics (the crops topic with a partition per worker), ``n_crops`` crops for them (tracks of
    10, 8 cameras) and a watchlist wanting 1% of their plates among 1000 entries; returns (settings
    with those topics, plates, encoded messages)."""
    from db.watchlists import add_entry, create_watchlist

    s = with_topics(settings, secrets.token_hex(3), input={"stop_at_end": True})
    create_topics(s, workers)
    n_tracks = max(1, n_crops // CROPS_PER_TRACK)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    plates = [random_plate(rng) for _ in range(n_tracks)]
    crops = []
    for i, plate in enumerate(plates):
        cam = f"bench-cam-{i % CAMERAS}"
        crops += track_crops(plate, cam, f"run-{i}", t0 + timedelta(seconds=0.5 * (i // CAMERAS)), images)
    with psycopg.connect(s.database.url.get_secret_value(), autocommit=True) as conn:
        wl = create_watchlist(conn, f"bench-{secrets.token_hex(3)}", channels=())
        for p in rng.sample(plates, max(1, n_tracks // 100)) + [random_plate(rng) for _ in range(1000)]:
            add_entry(conn, wl, p)
    return s, plates, encode_all(s, crops)


def replay(s: Settings, n: int, workers: int, reader: CropReader | None = None, **parts: Any) -> tuple[float, Any]:
    """Crops/s of the whole flow replaying the crops topic (``reader=None``: the configured OCR engine)."""
    from bytewax.testing import cluster_main, run_main

    from flows.assemble import FlowSinks, FlowSteps
    from flows.plates import build_flow

    sinks = FlowSinks.from_settings(s)
    timed = _TimedEvents(sinks.events)
    sinks = FlowSinks(**{**sinks.__dict__, "events": timed.sink})
    flow = build_flow(s, sinks=sinks, steps=FlowSteps.from_settings(s, reader=reader, **parts))
    t = time.perf_counter()
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return n / (time.perf_counter() - t), timed


def throughput(
    settings: Settings, n_crops: int, workers: int, rng: random.Random, images: Sequence[bytes]
) -> dict[str, Any]:
    """Phase 1 + 3: raw consume vs the whole flow (OCR excluded), and the flow's DB writes vs a raw COPY."""
    from flows.assemble import S3_UPLOAD_THREADS
    from flows.steps.store_crop import events_without_crops

    s, plates, messages = bench_tracks(settings, workers, n_crops, rng, images)
    n_tracks = len(plates)
    url = s.database.url.get_secret_value()
    log.warning("throughput: %d crops in %d tracks", len(messages), n_tracks)
    produce_rate = produce(s, messages)
    raw = raw_consume(s, len(messages), workers)
    decode_only = raw_consume(s, len(messages), workers, decode=True)
    log.warning(
        "produce %.0f msg/s, raw consume %.0f msg/s, consume + decode %.0f msg/s", produce_rate, raw, decode_only
    )
    s3_rate = raw_s3_put(s, max(200, n_tracks), S3_UPLOAD_THREADS, images)
    log.warning("raw S3 PUT %.0f/s (%d threads)", s3_rate, S3_UPLOAD_THREADS)

    rate, timed = replay(s, len(messages), workers, LabelReader())
    log.warning("whole flow: %.0f crops/s (%d workers)", rate, workers)
    # The same replay without object storage: the S3 store (one PUT per read) is the bottleneck.
    rate_no_s3, _ = replay(s, len(messages), workers, LabelReader(), store_crops=events_without_crops)
    log.warning("whole flow without S3 uploads: %.0f crops/s", rate_no_s3)
    seconds = len(messages) / rate
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM plate_events WHERE site = 'bench'").fetchone()[0]
    copy_rate = raw_copy(url, max(timed.rows, 1000))
    db_rate = timed.rows / timed.seconds if timed.seconds else 0.0
    return {
        "ocr": "excluded",
        "n_crops": len(messages),
        "n_tracks": n_tracks,
        "workers": workers,
        "produce_per_s": round(produce_rate),
        "raw_consume_per_s": round(raw),
        "flow_seconds": round(seconds, 3),
        "crops_per_s": round(rate),
        "crops_per_s_per_worker": round(rate / workers),
        "ratio_vs_raw_consume": round(rate / raw, 3),
        "consume_decode_per_s": round(decode_only),
        "consume_decode_ratio_vs_raw_consume": round(decode_only / raw, 3),
        "raw_s3_put_per_s": round(s3_rate),
        "s3_bound_crops_per_s": round(s3_rate * CROPS_PER_TRACK),
        "ratio_vs_s3_bound": round(rate / (s3_rate * CROPS_PER_TRACK), 3),
        "no_s3_crops_per_s_per_worker": round(rate_no_s3 / workers),
        "no_s3_ratio_vs_raw_consume": round(rate_no_s3 / raw, 3),
        "events_stored": stored,
        "db_rows_written": timed.rows,
        "db_rows_per_s": round(db_rate),
        "raw_copy_rows_per_s": round(copy_rate),
        "db_ratio_vs_copy": round(db_rate / copy_rate, 3) if copy_rate else None,
    }


def raw_copy(url: str, rows: int) -> float:
    """Rows/s of one ``COPY`` of ``rows`` plate events into ``plate_events`` (then removed)."""
    import uuid

    now = datetime.now(UTC) - timedelta(hours=1)
    data = [
        (
            str(uuid.uuid4()),
            now,
            now,
            now,
            "bench-copy",
            "copy-cam",
            f"t{i}",
            "ABC1234",
            "ABC1234",
            None,
            "US",
            0.9,
            1,
            None,
            None,
            False,
        )
        for i in range(rows)
    ]
    cols = (
        "event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id, plate, plate_raw, plate_hash, "
        "region, confidence, sightings, crop_key, crop_url, provisional"
    )
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY plate_events ({cols}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - t0
        conn.execute("DELETE FROM plate_events WHERE site = 'bench-copy'")
        conn.commit()
    return rows / seconds


def real_ocr_throughput(
    settings: Settings, n_crops: int, workers: int, rng: random.Random, images: Sequence[bytes]
) -> dict[str, Any]:
    """Phase 2: the whole flow, S3 uploads included, with the configured OCR engine reading every kept crop."""
    s, _, messages = bench_tracks(settings, workers, n_crops, rng, images)
    produce(s, messages)
    from ocr.syntax import load_reader

    engine = load_reader(s)  # what the flow reads with: the engine, its reads decoded under the formats
    reader = CropReader(lambda: engine, s.ocr.batch_size)
    reader.read(encoded_crops(images[:1]))  # warm-up: the model is loaded and run once before timing
    from prometheus_client import REGISTRY

    def engine_reads() -> float:  # crops the OCR step handed to the engine (flows.metrics)
        return REGISTRY.get_sample_value("alpr_flow_ocr_batch_size_sum") or 0.0

    before = engine_reads()
    rate, _ = replay(s, len(messages), workers, reader, reads_decoded=s.ocr.syntax.enabled)
    reads = engine_reads() - before
    log.warning("whole flow with %s OCR: %.1f crops/s (%d workers), %.0f reads", s.ocr.type, rate, workers, reads)
    return {
        "real_ocr": s.ocr.type,
        "real_ocr_cascade": _cascade_member(s),
        "real_ocr_n_crops": len(messages),
        "real_ocr_crops_per_s_per_worker": round(rate / workers, 1),
        "real_ocr_reads_per_crop": round(reads / len(messages), 2),
    }


def latency(
    settings: Settings, n_tracks: int, rng: random.Random, tmp: Path, images: Sequence[bytes]
) -> dict[str, Any]:
    """Phase 3: frame-to-alert through a tailing flow process and a real webhook receiver."""
    from config.flow import AlertChannel, AlertSettings
    from db.watchlists import add_entry, create_watchlist

    receiver = Receiver()
    channel = AlertChannel(name="bench-hook", type="webhook", url=receiver.url, secret=SecretStr("bench"), timeout_s=2)
    s = with_topics(settings, secrets.token_hex(3), alerts=AlertSettings(channels=(channel,)))
    create_topics(s, 1)
    plates = [random_plate(rng) for _ in range(n_tracks + 1)]
    url = s.database.url.get_secret_value()
    with psycopg.connect(url, autocommit=True) as conn:
        wl = create_watchlist(conn, f"bench-live-{secrets.token_hex(3)}", channels=("bench-hook",))
        for p in plates:
            add_entry(conn, wl, p)
    config = tmp / "latency.yaml"
    write_settings(s, config)
    logfile = (tmp / "latency-flow.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(config)],
        cwd=ROOT,
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    trigger = s.flow.provisional.min_crops if s.flow.provisional.enabled else CROPS_PER_TRACK
    try:
        from confluent_kafka import Producer
        from confluent_kafka.schema_registry import SchemaRegistryClient

        from schemas.serde import AvroEncoder

        enc = AvroEncoder(
            SchemaRegistryClient({"url": s.kafka.schema_registry_url}), "plate_crop", s.kafka.topics.crops
        )
        producer = Producer({"bootstrap.servers": s.kafka.bootstrap_servers, "linger.ms": 0})

        def send_track(plate: str, i: int) -> datetime:
            """Produce a track's crops in real time; return the frame time of the trigger crop."""
            start = datetime.now(UTC)
            crops = track_crops(plate, f"live-cam-{i % CAMERAS}", f"live-{i}", start, images)
            for c in crops:
                delay = (c.frame_ts - datetime.now(UTC)).total_seconds()
                if delay > 0:
                    time.sleep(delay)
                producer.produce(s.kafka.topics.crops, key=c.camera_id.encode(), value=enc.encode(c.to_avro()))
                producer.poll(0)
            return crops[trigger - 1].frame_ts

        # Warm-up: the first alert says the flow is up (models, connections, watchlists loaded).
        send_track(plates[0], 0)
        deadline = time.monotonic() + 120
        while not receiver.received and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bench: flow process exited ({proc.returncode}); see {logfile.name}")
            time.sleep(0.05)
        if not receiver.received:
            raise RuntimeError("bench: no warm-up alert within 120 s")
        frame_of: dict[str, datetime] = {}
        threads = []
        for i, plate in enumerate(plates[1:], start=1):  # a new track every 100 ms, overlapping
            th = threading.Thread(target=lambda p=plate, k=i: frame_of.__setitem__(p, send_track(p, k)))
            th.start()
            threads.append(th)
            time.sleep(0.1)
        for th in threads:
            th.join()
        producer.flush(10)
        deadline = time.monotonic() + 30
        while len({b["plate"] for _, b in receiver.received}) < len(plates) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        receiver.close()
    first_receipt: dict[str, float] = {}
    for at, body in receiver.received:
        first_receipt.setdefault(body["plate"], at)
    lat = sorted((first_receipt[p] - frame_of[p].timestamp()) * 1000 for p in frame_of if p in first_receipt)
    if not lat:
        raise RuntimeError("bench: no alert arrived in the latency phase")
    return {
        "latency_ocr": "excluded",
        "alerts_expected": len(frame_of),
        "alerts_received": len(lat),
        "p50_frame_to_alert_ms": round(statistics.median(lat), 1),
        "p99_frame_to_alert_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
        "max_frame_to_alert_ms": round(lat[-1], 1),
    }


def encoded_crops(images: Sequence[bytes]) -> list[PlateCrop]:
    """Bare :class:`PlateCrop` records around JPEG ``images`` (for the OCR step's reader alone)."""
    from operators.records import Box

    now = datetime.now(UTC)
    return [
        PlateCrop(
            camera_id="ocr",
            site="bench",
            track_id="t",
            crop_id=f"ocr:t:{i}",
            frame_index=i,
            frame_ts=now,
            published_ts=now,
            bbox=Box(0, 0, 1, 1),
            frame_width=1,
            frame_height=1,
            det_confidence=1.0,
            quality=1.0,
            sharpness=1.0,
            image=image,
        )
        for i, image in enumerate(images)
    ]


def _cascade_member(settings: Settings) -> str | None:
    """The member that reads first when the ensemble runs as a cascade (``ocr.ensemble.cascade``), else None."""
    cascade = settings.ocr.ensemble.cascade
    return cascade.member if settings.ocr.type == "ensemble" and cascade is not None else None


def ocr_alone(settings: Settings, n: int, images: Sequence[bytes]) -> dict[str, Any]:
    """Phase 5: the configured engine through the OCR step's reader on ``n`` of the bench crops
    (cycled), in its batches: crops per CPU second of this process, and wall ms per crop."""
    crops = encoded_crops([images[i % len(images)] for i in range(n)])
    from ocr.syntax import load_reader

    reader = CropReader(lambda: load_reader(settings), settings.ocr.batch_size)
    reader.read(crops[: settings.ocr.batch_size])  # warm-up: the model loads
    cpu, wall = time.process_time(), time.perf_counter()
    reader.read(crops)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "ocr_engine": settings.ocr.type,
        "ocr_cascade": _cascade_member(settings),
        "ocr_threads": settings.ocr.threads,
        "ocr_crops": len(crops),
        "ocr_crops_per_s_per_core": round(len(crops) / cpu, 2),
        "ocr_ms_per_crop": round(wall * 1000 / len(crops), 1),
    }


def serve(config: str) -> None:
    """``--serve CONFIG``: run the flow with the bench reader until interrupted (latency phase)."""
    from bytewax.testing import run_main

    from config.load import load_settings
    from flows.assemble import FlowSteps
    from flows.plates import build_flow

    settings = load_settings(config)
    with contextlib.suppress(KeyboardInterrupt):
        run_main(build_flow(settings, steps=FlowSteps.from_settings(settings, reader=LabelReader())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/flow.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small run (CI): fewer crops and tracks.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")
    parser.add_argument("--crops", type=int, default=None, help="Crops in the throughput phase.")
    parser.add_argument("--workers", type=int, default=1, help="Bytewax workers (threads) in the throughput phase.")
    parser.add_argument("--live-tracks", type=int, default=None, help="Tracks in the latency phase.")
    parser.add_argument("--ocr-crops", type=int, default=None, help="Crops in the real-OCR throughput phase.")
    parser.add_argument(
        "--crop-source",
        choices=("clip", "openalpr"),
        default="clip",
        help="Crops the edge publishes for the sample clip (default), or openalpr-us plates cut as the edge does.",
    )
    parser.add_argument("--reuse", action="store_true", help="Use the running stack of the default settings.")
    parser.add_argument("--serve", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    if args.serve:
        serve(args.serve)
        return 0
    n_crops = args.crops or (10_000 if args.quick else 50_000)
    n_live = args.live_tracks or (50 if args.quick else 200)
    n_ocr = args.ocr_crops or (50 if args.quick else 500)
    rng = random.Random(7)
    images = clip_crops() if args.crop_source == "clip" else openalpr_crops()
    result: dict[str, Any] = {
        "quick": args.quick,
        "crop_source": "samples/alizahidraja_70.mp4 through the edge" if args.crop_source == "clip" else
        "openalpr-us plates cut as the edge does",
        "crop_images": len(images),
        "crop_bytes_mean": round(statistics.mean(len(i) for i in images)),
    }  # fmt: skip
    log.warning("%d crop images, %d bytes on average", len(images), result["crop_bytes_mean"])
    with services(args.reuse) as settings, tempfile.TemporaryDirectory(prefix="alpr-bench-") as tmp:
        with bench_database(settings) as url:
            s = settings.model_copy(update={"database": settings.database.model_copy(update={"url": SecretStr(url)})})
            result |= throughput(s, n_crops, args.workers, rng, images)
            result |= real_ocr_throughput(s, n_ocr, args.workers, rng, images)
            result |= latency(s, n_live, rng, Path(tmp), images)
            result |= ocr_alone(s, 32 if args.quick else 128, images)
    result["targets_met"] = {
        "crops_per_s_per_worker>=20000 (ocr excluded, S3 uploads)": result["crops_per_s_per_worker"] >= 20_000,
        f"real_ocr_crops_per_s_per_worker>=20000 ({result['real_ocr']} OCR, S3 uploads)": (
            result["real_ocr_crops_per_s_per_worker"] >= 20_000
        ),
        "ratio_vs_raw_consume>=0.5 (ocr excluded)": result["ratio_vs_raw_consume"] >= 0.5,
        "p99_frame_to_alert_ms<1000 (ocr excluded)": result["p99_frame_to_alert_ms"] < 1000,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
