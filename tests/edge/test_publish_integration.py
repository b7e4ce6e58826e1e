"""The publisher against a real broker and registry: Avro on the wire, nothing lost while it is down."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from config.edge import PublishSettings, SpoolSettings
from config.settings import Settings
from edge.crops import encode_jpeg
from edge.publish import Publisher
from edge.records import Box, PlateCrop, plate_crop
from tests.edge.conftest import TansuBroker, outage_seconds, read_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

IMAGE = encode_jpeg(np.full((30, 90, 3), 127, np.uint8), 80)  # the crop of the outage tests


def _settings(stack: Settings, bootstrap: str, spool_dir: Path, topic: str) -> Settings:
    kafka = stack.kafka.model_copy(
        update={
            "bootstrap_servers": bootstrap,
            "topics": stack.kafka.topics.model_copy(update={"crops": topic}),
        }
    )
    edge = stack.edge.model_copy(
        update={
            "spool": SpoolSettings(dir=spool_dir, max_bytes=64 * 1024 * 1024),
            "publish": PublishSettings(message_timeout_s=3.0, retry_max_s=2.0, flush_timeout_s=60.0),
        }
    )
    return stack.model_copy(update={"kafka": kafka, "edge": edge})


def _crop(camera: str, index: int, image: bytes) -> PlateCrop:
    now = time.time()
    return plate_crop(
        camera_id=camera,
        site="test",
        track_id="run-1",
        frame_index=index,
        frame_ts=now,
        published_ts=now,
        bbox=Box(10, 20, 80, 30),
        frame_width=1280,
        frame_height=720,
        det_confidence=0.8,
        quality=0.7,
        sharpness=123.0,
        image=image,
    )


@pytest.mark.parametrize(
    "outage",
    [
        pytest.param(outage_seconds(), id="short"),
        # The figure: a 60 s outage. Slow, so it runs only with ALPR_TEST_FULL_OUTAGE=1.
        pytest.param(
            60.0,
            id="60s",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(
                    os.environ.get("ALPR_TEST_FULL_OUTAGE") != "1",
                    reason="set ALPR_TEST_FULL_OUTAGE=1 for the 60 s run",
                ),
            ],
        ),
    ],
)
def test_outage_spools_and_replays_in_order(
    stack_settings: Settings, tansu: TansuBroker, tmp_path: Path, outage: float
) -> None:
    """Broker killed for ``outage`` seconds: every crop made meanwhile arrives, in order."""
    topic = f"edge-outage-{time.time_ns()}"
    settings, publisher = _five_delivered(stack_settings, tansu, tmp_path, topic)
    try:
        tansu.stop()
        index = 5
        end = time.monotonic() + outage
        while time.monotonic() < end:
            assert publisher.publish_crop(_crop("cam-a", index, IMAGE))
            index += 1
            time.sleep(0.2)
        assert publisher.spool.depth >= index - 5 - 1, "crops made during the outage wait in the spool"
        assert publisher.counters.delivery_errors > 0, "the outage was noticed"
        tansu.start()  # memory storage: a fresh, empty broker on the same address
        for _ in range(5):
            assert publisher.publish_crop(_crop("cam-a", index, IMAGE))
            index += 1
        deadline = time.monotonic() + 60
        while publisher.spool.depth and time.monotonic() < deadline:
            time.sleep(0.2)
        assert publisher.spool.depth == 0, f"spool drained after the broker returned ({publisher.spool.depth} left)"
    finally:
        publisher.close(10)

    _assert_arrived_in_order(tansu, settings, topic, range(5, index), IMAGE)


def test_broker_hung_then_restarted_empty_gets_the_spool(
    stack_settings: Settings, tansu: TansuBroker, tmp_path: Path
) -> None:
    """A request in flight to a hung broker times out, so librdkafka bumps its producer epoch; the
    broker then comes back without its producer state and rejects that producer id, which librdkafka
    retries for ever: the publisher must replace its producer, and the spool drains in order."""
    topic = f"edge-hang-{time.time_ns()}"
    settings, publisher = _five_delivered(stack_settings, tansu, tmp_path, topic)
    try:
        tansu.hang()
        assert publisher.publish_crop(_crop("cam-a", 5, IMAGE))
        wait_until(lambda: publisher.counters.delivery_errors > 0, "the crop sent to the hung broker timing out")
        tansu.stop()
        tansu.start()  # memory storage: a fresh broker that knows no producer id
        for index in range(6, 11):
            assert publisher.publish_crop(_crop("cam-a", index, IMAGE))
        wait_until(lambda: publisher.spool.depth == 0, "the spool drained after the broker returned", 60)
    finally:
        publisher.close(10)

    _assert_arrived_in_order(tansu, settings, topic, range(5, 11), IMAGE)


def _five_delivered(stack: Settings, tansu: TansuBroker, tmp_path: Path, topic: str) -> tuple[Settings, Publisher]:
    """A started publisher to ``topic`` whose first 5 crops (frames 0-4 of cam-a) were delivered."""
    settings = _settings(stack, tansu.bootstrap, tmp_path / "spool", topic)
    publisher = Publisher(settings)
    publisher.start()
    for i in range(5):
        assert publisher.publish_crop(_crop("cam-a", i, IMAGE))
    wait_until(lambda: publisher.counters.delivered == 5, "broker up: the first crops delivered", 30)
    return settings, publisher


def _assert_arrived_in_order(tansu: TansuBroker, settings: Settings, topic: str, expected: range, image: bytes) -> None:
    """Every crop of ``expected`` is on the topic, in order; the restarted broker kept nothing older."""
    received = read_topic(tansu.bootstrap, settings.kafka.schema_registry_url, topic, len(expected), 60)
    frames = [r["frame_index"] for r in received]
    first = frames.index(expected[0]) if expected[0] in frames else None
    assert first is not None, f"crop {expected[0]} never arrived: {frames[:10]}"
    after = frames[first:]
    deduped = [f for i, f in enumerate(after) if i == 0 or f != after[i - 1]]
    assert deduped == list(expected), "every crop, in order (at-least-once: only adjacent repeats allowed)"
    assert all(r["camera_id"] == "cam-a" and r["image"] == image for r in received)
