"""Fault injection: the real flow under kill -9, outages and malformed messages; counts what survives.

    python bench/chaos.py [--quick] [--json] [--passes N] [--kills K] [--seed S]

Starts its own durable broker (Tansu on S3), schema registry and S3 store on free loopback
ports, a fresh migrated database on the configured PostgreSQL server (dropped at the end), a
webhook receiver (``tests/flows/receiver.py``) and TCP proxies in front of S3 and PostgreSQL
(``tests/fixtures/proxy.py``) so that each can be cut off from the flow. The flow is the
production one run as ``python -m bytewax.run`` with recovery (``-r``, snapshots every second)
as ``bench.chaos:chaos_flow()``: every step as in production except the OCR engine, replaced
by :func:`text_reader` (the crops carry their plate text: the plate of every pass, and
so the expected events and alerts, are known exactly).

While vehicle passes stream in (one per camera every 400 s of event time, every tenth plate
on a watchlist with a webhook channel), mixed with malformed messages of 15 kinds, the run:

- kills the flow with SIGKILL ``--kills`` times and restarts it on its recovery directory;
- cuts S3, PostgreSQL and the webhook receiver off (proxy/receiver stopped), and stops and
  restarts the broker, each for a while, one after the other, between the kills;
- restarts the flow whenever it exits on its own, noting the fault active then;

then waits for the flow to settle (every event stored, no crop waiting, every alert delivered,
every malformed message dead-lettered) and reports, as one JSON object with ``--json``:
events expected, stored, lost and duplicated, events without their crop, alerts expected,
delivered, lost and delivered twice (the receiver de-duplicates those by ``X-ALPR-Alert-Id``),
dead letters per kind of malformed message, messages on the plates topic and their distinct
``alpr-dedup-key`` headers, kills and flow exits (with the fault active at each exit).

``--quick`` (CI: ``tests/chaos/``) is a short version: fewer passes, one kill, outages of a
few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

log = logging.getLogger("bench.chaos")

CROPS_PER_PASS = 3
EVENT_GAP_S = 400  # event time between two passes of one camera: more than the dedup window
WATCH_EVERY = 10  # every tenth pass's plate is on the watchlist


def text_reader() -> Any:
    """BENCH ONLY: the OCR step's reader without OCR. A chaos crop's image bytes are its plate text
    (ASCII, format ``txt``); the read is that text, confidence 0.99 per character."""
    from collections.abc import Sequence

    from flows.steps.ocr import CropReader
    from operators.records import OcrRead, PlateCrop

    class TextReader(CropReader):
        def __init__(self) -> None:
            super().__init__(lambda: None, batch_size=64)  # type: ignore[arg-type,return-value]

        def read(self, crops: Sequence[PlateCrop]) -> list[OcrRead]:
            out = []
            for c in crops:
                text = c.image.decode("ascii", "replace")
                out.append(
                    OcrRead.make(c.crop_id, text, 0.99, (0.99,) * len(text))
                    if text.isalnum()
                    else OcrRead.make(c.crop_id, "", 0.0)
                )
            return out

    return TextReader()


def chaos_flow() -> Any:
    """The flow of the chaos runs: production steps and sinks, :func:`text_reader` for OCR."""
    from config.load import load_settings
    from flows.assemble import FlowSteps
    from flows.plates import build_flow

    settings = load_settings()
    return build_flow(settings, steps=FlowSteps.from_settings(settings, reader=text_reader()))


@dataclass(frozen=True)
class Plan:
    """What one run does."""

    passes: int = 4000
    cameras: int = 100
    rate: float = 10.0  # passes per second
    kills: int = 12
    s3_outage_s: float = 30.0
    pg_outage_s: float = 20.0
    receiver_outage_s: float = 20.0
    broker_outage_s: float = 10.0
    malformed_every: int = 40  # one malformed message (the next kind) every this many passes
    settle_s: float = 300.0

    @classmethod
    def quick(cls) -> Plan:
        """The CI version (~2 minutes)."""
        return cls(
            passes=150,
            cameras=15,
            rate=5.0,
            kills=1,
            s3_outage_s=5.0,
            pg_outage_s=5.0,
            receiver_outage_s=4.0,
            broker_outage_s=3.0,
            malformed_every=10,
            settle_s=150.0,
        )


# --- malformed messages ----------------------------------------------------------------------


def _crop(camera: str, track: str, at: datetime, image: bytes, **fields: Any) -> dict[str, Any]:
    from operators.records import Box, PlateCrop

    crop = PlateCrop(
        camera_id=camera, site="chaos", track_id=track, crop_id=f"{camera}:{track}:0", frame_index=0,
        frame_ts=at, published_ts=at, bbox=Box(1, 2, 120, 40), frame_width=1920, frame_height=1080,
        det_confidence=0.875, quality=0.5, sharpness=100.0, image=image, image_format="txt",
    )  # fmt: skip
    return {**crop.to_avro(), **fields}


def pass_messages(
    encode: Callable[[dict[str, Any]], bytes], camera: str, track: str, plate: str, start: datetime
) -> list[tuple[str, bytes]]:
    """One vehicle pass: ``(key, value)`` of :data:`CROPS_PER_PASS` crops carrying ``plate`` as text."""
    return [
        (
            camera,
            encode(
                _crop(
                    camera,
                    track,
                    start + timedelta(milliseconds=40 * j),
                    plate.encode(),
                    frame_index=j,
                    crop_id=f"{camera}:{track}:{j}",
                    quality=0.5 + 0.1 * j,
                )
            ),
        )  # fmt: skip
        for j in range(CROPS_PER_PASS)
    ]


def malformed_kinds(encode: Callable[[dict[str, Any]], bytes], at: datetime) -> list[tuple[str, bytes | None]]:
    """One message of each kind the flow must dead-letter (kind, value)."""
    good = _crop("chaos-bad", "t", at, b"ABC123")
    return [
        ("tombstone", None),
        ("empty", b""),
        ("bad_magic_byte", b"\x01\x00\x00\x00\x01abc"),
        ("unknown_schema_id", b"\x00\x00\x00\x7f\x7f" + b"\x02" * 20),
        ("truncated_avro", encode(good)[:12]),
        ("plain_text", b"not avro at all"),
        ("invalid_record", encode({**good, "quality": 1.5})),
        ("nul_in_camera_id", encode({**good, "camera_id": "cam\x00x"})),
        ("newline_in_camera_id", encode({**good, "camera_id": "cam\nx"})),
        ("nul_in_site", encode({**good, "site": "si\x00te"})),
        ("camera_id_10000_chars", encode({**good, "camera_id": "c" * 10_000})),
        ("bidi_override_in_track_id", encode({**good, "track_id": "t\u202eevil"})),
        ("frame_ts_year_2100", encode({**good, "frame_ts": datetime(2100, 1, 1, tzinfo=UTC)})),
        ("message_over_1mb", b"\x00" + secrets.token_bytes(1_500_000)),
        ("image_over_limit", encode({**good, "image": b"A" * (4 * 1024 * 1024 + 1)})),
    ]


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the harness did and saw."""

    kills: int = 0
    exits: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    active_fault: str | None = None
    malformed_sent: dict[tuple[int, int], str] = field(default_factory=dict)  # (partition, offset) -> kind
    passes_sent: int = 0


class FlowProcess:
    """The flow as a child process with recovery; restarted after kills and exits."""

    def __init__(self, config: Path, recovery: Path, log_path: Path, tally: Tally) -> None:
        self.config, self.recovery, self.log_path, self.tally = config, recovery, log_path, tally
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from tests.flows.flow_env import start_flow

        self.proc = start_flow(self.config, self.recovery, self.log_path, flow="bench.chaos:chaos_flow()")

    def kill(self) -> None:
        with self._lock:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            self.tally.kills += 1
            self.start()

    def check(self) -> None:
        """Restart the flow when it exited on its own (and note it)."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace").splitlines()[-5:]
                self.tally.exits.append({"code": self.proc.returncode, "fault": self.tally.active_fault, "log": tail})
                log.warning("flow exited (%s) during %s; restarting", self.proc.returncode, self.tally.active_fault)
                self.start()

    def stop(self) -> None:
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(30)


def _random_plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return "".join(rng.choices(letters, k=3)) + "".join(rng.choices("0123456789", k=4))


def run(plan: Plan, workdir: Path, seed: int = 7) -> dict[str, Any]:
    """One chaos run; returns the report (see the module docstring)."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from pydantic import SecretStr

    from db.watchlists import add_entry, create_watchlist
    from schemas.serde import AvroEncoder
    from services import stack
    from tests.fixtures.database import create_test_database, drop_test_database, server_url
    from tests.fixtures.proxy import TcpProxy
    from tests.fixtures.stack import start_stack
    from tests.flows import flow_env
    from tests.flows.receiver import AlertReceiver

    started = time.monotonic()
    rng = random.Random(seed)
    base = start_stack(workdir / "stack", broker_storage="s3")
    db_server = server_url()
    url = create_test_database(db_server, "chaos_")
    tally = Tally()
    try:
        from db.migrate import migrate

        migrate(url)
        info = psycopg.conninfo.conninfo_to_dict(url)
        pg_proxy = TcpProxy((info.get("host") or "127.0.0.1", int(info.get("port") or 5432))).start()
        s3_host, s3_port = base.s3.endpoint.split(":")
        s3_proxy = TcpProxy((s3_host, int(s3_port))).start()
        receiver = AlertReceiver(flow_env.SECRET).start()
        proxied_url = psycopg.conninfo.make_conninfo(url, host="127.0.0.1", port=pg_proxy.port)
        s = base.model_copy(
            update={
                "database": base.database.model_copy(update={"url": SecretStr(proxied_url)}),
                "s3": base.s3.model_copy(update={"endpoint": s3_proxy.address}),
            }
        )
        s = flow_env.flow_settings(
            s, f"http://127.0.0.1:{receiver.port}", partitions=2, track_idle_s=0.5, input={"stop_at_end": False},
            crop_retry_s=1.0, erasures_poll_s=5.0,
        )  # fmt: skip
        # The test settings retry every 0.5 s at most, so the default 40 attempts last about 20 s:
        # as long as the receiver's outage, and an alert raised as it starts failed just before
        # the receiver came back (399 of 400 once). The attempts cover three outages here; the
        # time bound stays the product's (max_retry_s).
        attempts = max(40, math.ceil(3 * plan.receiver_outage_s / s.flow.alerts.backoff_max_s))
        alerts = s.flow.alerts.model_copy(update={"channels": s.flow.alerts.channels[:1], "max_attempts": attempts})
        s = s.model_copy(update={"flow": s.flow.model_copy(update={"alerts": alerts})})
        config = flow_env.write_config(s, workdir / "flow.yaml")
        recovery = workdir / "recovery"
        recovery.mkdir()
        subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT)

        plates = [_random_plate(rng) for _ in range(plan.passes)]
        while len(set(plates)) < len(plates):
            plates = [_random_plate(rng) for _ in range(plan.passes)]
        watched = set(plates[::WATCH_EVERY])
        with psycopg.connect(url, autocommit=True) as conn:
            wl = create_watchlist(conn, "chaos", channels=flow_env.channel_names(s)[:1])
            entry_of = {p: add_entry(conn, wl, p) for p in sorted(watched)}

        encoder = AvroEncoder(
            SchemaRegistryClient({"url": s.kafka.schema_registry_url}), "plate_crop", s.kafka.topics.crops
        )
        rounds = plan.passes // plan.cameras + 1
        t_base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=EVENT_GAP_S * (rounds + 1))
        passes = []  # (camera, track, plate, start)
        for i, plate in enumerate(plates):
            cam, k = f"chaos-cam-{i % plan.cameras}", i // plan.cameras
            passes.append((cam, f"pass-{i}", plate, t_base + timedelta(seconds=EVENT_GAP_S * k)))
        kinds = malformed_kinds(encoder.encode, datetime.now(UTC) - timedelta(minutes=5))

        flow = FlowProcess(config, recovery, workdir / "flow.log", tally)
        flow.start()
        producer = Producer(
            {"bootstrap.servers": s.kafka.bootstrap_servers, "linger.ms": 5, "message.max.bytes": 16 * 1024 * 1024}
        )
        errors: list[str] = []

        def traffic() -> None:
            kind_i = 0
            for i, (cam, track, plate, start) in enumerate(passes):
                for key, value in pass_messages(encoder.encode, cam, track, plate, start):
                    _produce(producer, s.kafka.topics.crops, key.encode(), value, errors)
                tally.passes_sent += 1
                if i % plan.malformed_every == plan.malformed_every - 1:
                    kind, value = kinds[kind_i % len(kinds)]
                    kind_i += 1

                    def sent(err: Any, msg: Any, kind: str = kind) -> None:
                        if err is None:
                            tally.malformed_sent[(msg.partition(), msg.offset())] = kind
                        else:
                            errors.append(f"{kind}: {err}")

                    _produce(producer, s.kafka.topics.crops, b"chaos-bad", value, errors, on_delivery=sent)
                time.sleep(1.0 / plan.rate)
            while producer.flush(10):
                pass

        sender = threading.Thread(target=traffic, name="chaos-traffic", daemon=True)
        count = _counter(url, [p[0] for p in passes])
        sender.start()
        _wait_until(lambda: count() > 0, flow, 180, "the flow stored nothing")  # up: models, connections

        def outage(name: str, seconds: float, down: Callable[[], None], up: Callable[[], None]) -> None:
            tally.active_fault = name
            t0 = time.monotonic()
            down()
            _idle(seconds, flow)
            up()
            tally.faults.append({"fault": name, "seconds": round(time.monotonic() - t0, 1)})
            tally.active_fault = None

        def broker_down() -> None:
            stack.down(s, only=["broker"], grace_s=3.0)

        def broker_up() -> None:
            reports = stack.up(s, only=["broker", "registry"], die_with_parent=True)
            bad = [r for r in reports if not r.ok]
            if bad:
                raise RuntimeError(f"chaos: broker did not come back: {bad}")

        faults: list[Callable[[], None]] = [
            lambda: outage("s3", plan.s3_outage_s, s3_proxy.stop, s3_proxy.start),
            lambda: outage("postgres", plan.pg_outage_s, pg_proxy.stop, pg_proxy.start),
            lambda: outage("receiver", plan.receiver_outage_s, receiver.stop, receiver.start),
            lambda: outage("broker", plan.broker_outage_s, broker_down, broker_up),
        ]
        duration = plan.passes / plan.rate
        steps = max(plan.kills, len(faults))
        gap = duration / (steps + 1)
        for step in range(steps):
            _idle(gap, flow)
            if step < plan.kills:
                tally.active_fault = "kill -9"
                flow.kill()
                tally.active_fault = None
            if step < len(faults):
                faults[step]()
        sender.join(duration * 3 + 120)
        expected_alerts = {p[2] for p in passes} & watched

        def settled() -> bool:
            return _settled(url, passes, len(expected_alerts), len(tally.malformed_sent), s, receiver)

        _wait_until(settled, flow, plan.settle_s, None)
        flow.stop()

        report = _report(url, s, passes, watched, entry_of, receiver, tally)
        flow_log = flow.log_path.read_text(errors="replace")
        report["crops_kept_for_retry"] = flow_log.count("(kept in crop_retries)")
        report["consumer_stall_alarms"] = flow_log.count("has lag but consumes nothing")
        report.update(
            {
                "plan": asdict(plan),
                "produce_errors": errors[:10],
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        return report
    finally:
        with contextlib.suppress(Exception):
            flow.stop()  # type: ignore[possibly-undefined]
        for closer in ("receiver", "pg_proxy", "s3_proxy"):
            obj = locals().get(closer)
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.stop()
        stack.down(base, grace_s=3.0)
        with contextlib.suppress(Exception):
            drop_test_database(url)


def _produce(producer: Any, topic: str, key: bytes, value: bytes | None, errors: list[str], **kw: Any) -> None:
    def failed(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    while True:
        try:
            producer.produce(topic, key=key, value=value, on_delivery=kw.get("on_delivery", failed))
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.1)


def _idle(seconds: float, flow: FlowProcess) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flow.check()
        time.sleep(0.2)


def _wait_until(ok: Callable[[], bool], flow: FlowProcess, timeout_s: float, fail: str | None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        flow.check()
        try:
            if ok():
                return True
        except psycopg.Error:
            pass
        time.sleep(0.5)
    if fail is not None:
        raise RuntimeError(f"chaos: {fail}; see {flow.log_path}")
    return False


def _counter(url: str, cams: list[str]) -> Callable[[], int]:
    cams = sorted(set(cams))

    def count() -> int:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM plate_events WHERE camera_id = ANY(%s)", (cams,)).fetchone()[0]

    return count


def _settled(url: str, passes: list[Any], alerts: int, malformed: int, s: Any, receiver: Any) -> bool:
    cams = sorted({p[0] for p in passes})
    with psycopg.connect(url, connect_timeout=5) as conn:
        events, no_crop = conn.execute(
            "SELECT count(DISTINCT (camera_id, track_id)), count(*) FILTER (WHERE crop_key IS NULL)"
            " FROM plate_events WHERE camera_id = ANY(%s) AND NOT provisional",
            (cams,),
        ).fetchone()
        waiting = conn.execute("SELECT count(*) FROM crop_retries").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM alert_deliveries WHERE status = 'pending'").fetchone()[0]
    delivered = len(set(receiver.alert_ids("/webhook")))
    return events >= len(passes) and no_crop == 0 and waiting == 0 and pending == 0 and delivered >= alerts


def _read_all(s: Any, topic: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every message of a one-partition topic: (message, decoded Avro)."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from schemas.serde import AvroDecoder

    consumer = Consumer(
        {"bootstrap.servers": s.kafka.bootstrap_servers, "group.id": f"chaos-{uuid.uuid4().hex[:6]}",
         "enable.auto.commit": False, "enable.partition.eof": True, "session.timeout.ms": 6000}
    )  # fmt: skip
    decoder = AvroDecoder(SchemaRegistryClient({"url": s.kafka.schema_registry_url}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            msgs = consumer.consume(500, 1.0)
            done = False
            for m in msgs:
                if m.error() is not None:
                    done = done or m.error().code() == -191  # _PARTITION_EOF
                    continue
                out.append((m, decoder.decode(m.value())))
            if done:
                break
    finally:
        consumer.close()
    return out


_DIGITS = re.compile(r"\d+")


def _report(
    url: str, s: Any, passes: list[Any], watched: set[str], entry_of: dict[str, int], receiver: Any, tally: Tally
) -> dict[str, Any]:
    from operators.records import ALPR_NAMESPACE, DeadLetter

    cams = sorted({p[0] for p in passes})
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT event_id::text, camera_id, track_id, plate, sightings, provisional, crop_key"
            " FROM plate_events WHERE camera_id = ANY(%s)",
            (cams,),
        ).fetchall()
        deliveries = Counter(
            r[0] for r in conn.execute("SELECT status FROM alert_deliveries d JOIN alerts a USING (alert_id)")
        )
        waiting = conn.execute("SELECT count(*) FROM crop_retries").fetchone()[0]
    expected = {(c, t): p for c, t, p, _ in passes}
    per_pass = Counter((r[1], r[2]) for r in rows)
    stored = {(r[1], r[2]) for r in rows}
    wrong_plate = sum(1 for r in rows if expected.get((r[1], r[2])) not in (None, r[3]))
    want_alerts = {
        str(uuid.uuid5(ALPR_NAMESPACE, f"watchlist-alert\x1f{r[0]}\x1f{entry_of[r[3]]}"))
        for r in rows
        if r[3] in watched
    }
    got = Counter(a for a in receiver.alert_ids("/webhook") if a is not None)

    dead = _read_all(s, s.kafka.topics.dead_letter)
    dl_kinds: Counter[str] = Counter()
    dl_reasons: Counter[str] = Counter()
    seen_positions: set[tuple[int, int]] = set()
    for _, rec in dead:
        letter = DeadLetter.from_avro(rec)
        reason = _DIGITS.sub("N", letter.reason.split(" [", 1)[0])[:70]
        dl_reasons[f"{letter.step}: {reason}"] += 1
        position = (letter.partition, letter.offset)
        if position in tally.malformed_sent and position not in seen_positions:
            seen_positions.add(position)
            dl_kinds[tally.malformed_sent[position]] += 1
    sent_kinds = Counter(tally.malformed_sent.values())
    plates_topic = _read_all(s, s.kafka.topics.plates)
    dedup_keys = {dict(m.headers() or ())["alpr-dedup-key"] for m, _ in plates_topic}
    topic_events = {rec["event_id"] for _, rec in plates_topic if not rec["provisional"]}
    return {
        "passes": len(passes),
        "events_expected": len(expected),
        "events_stored": len(stored & set(expected)),
        "events_lost": len(set(expected) - stored),
        "events_duplicated": sum(n - 1 for n in per_pass.values() if n > 1),
        "events_wrong_sightings": sum(1 for r in rows if r[4] != 1),
        "events_wrong_plate": wrong_plate,
        "events_provisional_left": sum(1 for r in rows if r[5]),
        "events_without_crop": sum(1 for r in rows if r[6] is None),
        "crops_still_waiting": waiting,
        "alerts_expected": len(want_alerts),
        "alerts_delivered": len(set(got) & want_alerts),
        "alerts_lost": len(want_alerts - set(got)),
        "alerts_delivered_twice": sum(1 for a, n in got.items() if n > 1),
        "alert_delivery_rows": dict(deliveries),
        "malformed_sent": dict(sent_kinds),
        "malformed_dead_lettered": dict(dl_kinds),
        "malformed_not_dead_lettered": {
            k: n - dl_kinds.get(k, 0) for k, n in sent_kinds.items() if n > dl_kinds.get(k, 0)
        },
        "dead_letters": len(dead),
        "dead_letters_by_reason": dict(dl_reasons.most_common()),
        "kafka_plate_messages": len(plates_topic),
        "kafka_plate_distinct_dedup_keys": len(dedup_keys),
        "kafka_final_events_missing": len({r[0] for r in rows if not r[5]} - topic_events),
        "flow_kills": tally.kills,
        "flow_exits": len(tally.exits),
        "flow_exits_by_fault": dict(Counter(str(e["fault"]) for e in tally.exits)),
        "flow_exit_logs": [e["log"] for e in tally.exits][:5],
        "faults": tally.faults,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/chaos.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="The short CI version.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")
    parser.add_argument("--passes", type=int, default=None, help="Vehicle passes to send.")
    parser.add_argument("--kills", type=int, default=None, help="kill -9 of the flow during the run.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    plan = Plan.quick() if args.quick else Plan()
    changes = {k: v for k, v in (("passes", args.passes), ("kills", args.kills)) if v is not None}
    plan = Plan(**{**asdict(plan), **changes})
    with tempfile.TemporaryDirectory(prefix="alpr-chaos-") as tmp:
        report = run(plan, Path(tmp), seed=args.seed)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
