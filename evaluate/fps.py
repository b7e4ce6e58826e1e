"""``alpr eval fps``: one clip at several frame rates through the edge and the flow, in-process.

Each (clip, rate) runs as a camera of its own: the edge's file reader at that ``fps_cap``
(:class:`edge.camera.CameraReader`), the edge's :class:`edge.pipeline.CameraPipeline` (plate
detector, vehicle stage, plate tracking, crop selection), the crops Avro-encoded as the edge
publishes them, then the plates dataflow (:func:`flows.plates.build_flow`: decode, best shot,
OCR, vote, validate, dedup) fed by a bytewax testing source instead of Kafka, with an in-memory
schema registry and no storage. What ``alpr eval video`` checks on the real services, but for
many rates at once and without any service: for choosing a camera's ``fps_cap`` and for CI.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2

from config.edge import CameraSettings
from config.settings import Settings
from evaluate.metrics import plate_key

__all__ = ["RateRun", "Variant", "derive_clips", "edge_crops", "flow_events", "run_rates"]


@dataclass(frozen=True, slots=True)
class RateRun:
    """What one clip gave at one ``fps_cap``: frames processed, plate tracks, crops, final events."""

    clip: str
    fps: float
    camera: str
    frames: int
    tracks: int
    crops: int
    cpu_s: float
    events: tuple  # PlateEvent, final state of each event id

    def plates(self) -> list[str]:
        """The plates of the run's plate events (no-plate events left out)."""
        return [e.plate for e in self.events if e.plate]

    def as_dict(self, expected: Sequence[str] = ()) -> dict[str, object]:
        """Plain values for a JSON report; ``ok`` when exactly one event per expected plate and no other."""
        plates = sorted(plate_key(p) for p in self.plates())
        return {
            "clip": self.clip,
            "fps": self.fps,
            "frames": self.frames,
            "tracks": self.tracks,
            "crops": self.crops,
            "cpu_s": round(self.cpu_s, 2),
            "events": plates,
            "vehicles": [
                {
                    "plate": e.plate,
                    "no_plate": e.no_plate,
                    "type": e.vehicle.type if e.vehicle else None,
                    "colour": e.vehicle.colour if e.vehicle else None,
                }
                for e in self.events
            ],  # fmt: skip
            "ok": plates == sorted(plate_key(p) for p in expected),
        }


@dataclass(frozen=True, slots=True)
class Variant:
    """How a derived clip differs from its source: ``crop`` (x, y, w, h) first, then ``scale``, played at
    ``speed`` (0.5: half speed, each frame lasting twice as long)."""

    scale: float = 1.0
    crop: tuple[int, int, int, int] | None = None
    speed: float = 1.0


def derive_clips(
    src: Path, variants: dict[str, Variant], folder: Path, frames: tuple[int, int] | None = None
) -> list[tuple[str, Path]]:
    """Write each variant of ``src`` (frames ``[a, b)`` only) as ``folder/<name>.avi`` (MJPEG), in one decoding pass."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writers: dict[str, cv2.VideoWriter] = {}
    index = -1
    try:
        while True:
            ok, image = cap.read()
            index += 1
            if not ok or (frames is not None and index >= frames[1]):
                break
            if frames is not None and index < frames[0]:
                continue
            for name, v in variants.items():
                out = image
                if v.crop is not None:
                    x, y, w, h = v.crop
                    out = out[y : y + h, x : x + w]
                if v.scale != 1.0:
                    size = (round(out.shape[1] * v.scale) // 2 * 2, round(out.shape[0] * v.scale) // 2 * 2)
                    out = cv2.resize(out, size, interpolation=cv2.INTER_AREA)
                if name not in writers:
                    fourcc = cv2.VideoWriter_fourcc(*"MJPG")
                    path = str(folder / f"{name}.avi")
                    writers[name] = cv2.VideoWriter(path, fourcc, fps * v.speed, (out.shape[1], out.shape[0]))
                writers[name].write(out)
    finally:
        cap.release()
        for writer in writers.values():
            writer.release()
    if not writers:
        raise ValueError(f"no frames read from {src}")
    return [(name, folder / f"{name}.avi") for name in variants]


def edge_crops(camera: CameraSettings, settings: Settings, detector, vehicle_detector) -> tuple[list, int, float]:  # noqa: ANN001
    """The crops the edge publishes for one file camera: (PlateCrop records, frames processed, CPU seconds)."""
    from edge.camera import CameraReader
    from edge.pipeline import CameraPipeline
    from edge.records import PlateCrop

    pipeline = CameraPipeline(
        camera, settings.edge, site=settings.site, run_id="eval", detector=detector,
        vehicle_detector=vehicle_detector,
    )  # fmt: skip
    reader = CameraReader(camera)
    reader.start()
    records: list = []
    frames = 0
    cpu0 = time.process_time()
    last_ts = 0.0
    try:
        while True:
            frame = reader.slot.get(timeout=1.0)
            if frame is None:
                if reader.slot.closed:
                    break
                continue
            frames += 1
            last_ts = frame.ts
            records += pipeline.process(frame)
        records += pipeline.close(last_ts)
    finally:
        reader.stop()
        reader.join(10)
    return [r for r in records if isinstance(r, PlateCrop)], frames, time.process_time() - cpu0


def flow_events(settings: Settings, crops: Sequence, *, reader=None) -> list:  # noqa: ANN001
    """Run the plates dataflow on edge crops (Avro-encoded, in-memory registry); the final events."""
    from bytewax.connectors.kafka import KafkaSourceMessage
    from bytewax.testing import TestingSink, TestingSource, run_main
    from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

    from flows.assemble import FlowSinks, FlowSteps
    from flows.plates import build_flow
    from flows.steps.decode import CropDecoder
    from flows.steps.ocr import CropReader
    from flows.steps.store_crop import events_without_crops
    from operators.watchlist import Watchlist
    from schemas.serde import AvroDecoder, AvroEncoder

    topic = settings.kafka.topics.crops
    registry = MockSchemaRegistryClient({"url": "mock://alpr-eval-fps"})
    encoder = AvroEncoder(registry, "plate_crop", topic)
    messages = [
        KafkaSourceMessage(c.camera_id.encode(), encoder.encode(c.to_avro()), topic=topic, partition=0, offset=i)
        for i, c in enumerate(crops)
    ]
    if reader is None:  # the product's reader: the engine, decoded under the plate formats
        from ocr.syntax import load_reader

        reader = CropReader(lambda: load_reader(settings), settings.ocr.batch_size)
    steps = FlowSteps.from_settings(
        settings,
        decode=CropDecoder(lambda: AvroDecoder(registry, reader_schema="plate_crop"), registry_retry_s=0),
        store_crops=events_without_crops,
        watchlist=lambda: Watchlist(()),
        reader=reader,
    )
    events: list = []
    dead: list = []
    sinks = FlowSinks(dead_letters=TestingSink(dead), rejected=None, events=TestingSink(events))
    run_main(build_flow(settings, TestingSource(messages), sinks, steps))
    if dead:
        raise ValueError(f"eval fps: {len(dead)} crop(s) dead-lettered, first: {dead[0].reason}")
    latest: dict[str, object] = {}
    for event in events:  # an update supersedes the earlier state of its event
        latest[event.event_id] = event
    return [e for e in latest.values() if not e.provisional]


def run_rates(
    clips: Sequence[tuple[str, Path]],
    rates: Sequence[float],
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    reader=None,  # noqa: ANN001
    camera_options: dict[str, object] | None = None,
) -> list[RateRun]:
    """Every clip at every rate through the edge, then each one's crops through the flow.

    The flow runs once per (clip, rate), as at a site with one camera: the OCR ensemble's reads
    depend a little on which crops share an inference batch (padding to the widest crop), so
    mixing all cameras in one run would test a batching no single camera sees.

    ``camera_options`` are extra camera settings (e.g. ``{"no_plate_events": True}``).
    """
    from edge.detect import load_detector
    from flows.steps.ocr import CropReader
    from ocr.syntax import load_reader

    if reader is None:  # one reader for every run (the engine, decoded under the plate formats)
        reader = CropReader(lambda: load_reader(settings), settings.ocr.batch_size)
    detector = load_detector(settings.edge.detector)
    vehicles = settings.edge.vehicles
    vehicle_detector = load_detector(vehicles.detector) if vehicles.enabled else None
    out: list[RateRun] = []
    for name, path in clips:
        for fps in rates:
            camera_id = f"{name}-{fps:g}fps"
            camera = CameraSettings(
                id=camera_id, url=str(path), fps_cap=fps, loop=False, realtime=False, **(camera_options or {})
            )
            got, frames, cpu = edge_crops(camera, settings, detector, vehicle_detector)
            tracks = len({c.track_id for c in got if not c.no_plate})
            events = tuple(flow_events(settings, got, reader=reader)) if got else ()
            out.append(RateRun(name, fps, camera_id, frames, tracks, len(got), cpu, events))
            if progress is not None:
                progress(f"{camera_id}: {frames} frames, {len(got)} crops, {len(events)} event(s), {cpu:.1f} s CPU")
    return out
