"""DEV-ONLY schema registry: a small stand-in for Confluent Schema Registry.

**Not for production.** Production runs Confluent Schema Registry; this module exists so
that the local stack (``alpr services up``) and the tests need no JVM. It speaks the
subset of the Confluent REST API that ``confluent_kafka.schema_registry.SchemaRegistryClient``
uses: registering and looking up Avro schemas under subjects, fetching schemas by id,
soft/permanent deletes, compatibility tests and global/per-subject compatibility levels
(NONE, BACKWARD, FORWARD, FULL and their ``_TRANSITIVE`` variants; default BACKWARD),
with Confluent's error bodies (``{"error_code": 40401, "message": ...}``).

Compatibility is decided by the Avro project's own reader/writer checker
(:mod:`avro.compatibility`, a port of Java's ``SchemaCompatibility``). Only AVRO schemas
without references are accepted.

Every registration, delete and config change is appended to a compacted Kafka topic
(``_schemas``, created when missing) before it is acknowledged; on start the server
replays that topic, so ids and versions survive a restart. Records are JSON keyed like
Confluent's own (``{"keytype": "SCHEMA", "subject": ..., "version": ...}``). Without
``--bootstrap-servers`` nothing is persisted (a warning says so).

Run: ``python -m services.registry --host 127.0.0.1 --port 18081 --bootstrap-servers 127.0.0.1:19092``.
Health: ``GET /subjects`` answers 200.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import re
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import avro.schema
import fastavro
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

log = logging.getLogger("services.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SCHEMAS_TOPIC = "_schemas"
DEFAULT_LEVEL = "BACKWARD"
LEVELS = frozenset(
    {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}
)
MAX_VERSION = 2**31 - 1
DEV_ONLY_WARNING = "DEV-ONLY schema registry (services.registry): not for production; use Confluent Schema Registry"


class RegistryError(Exception):
    """An error answer: HTTP status, Confluent error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class StoreError(Exception):
    """The schema log (the broker) could not be read or written."""


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def _version_not_found(subject: str, version: int | str) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found for subject '{subject}'.")


# --------------------------------------------------------------------------- compatibility


def incompatibilities(reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer`` (empty when it can)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({kind.value for kind in result.incompatibilities}))
    return [f"{kinds} at {', '.join(sorted(result.locations))}: {', '.join(sorted(result.messages))}"]


def check_compatibility(new: avro.schema.Schema, existing: list[avro.schema.Schema], level: str) -> list[str]:
    """Messages explaining why ``new`` breaks ``level`` against ``existing`` (oldest first)."""
    if level == "NONE" or not existing:
        return []
    against = existing if level.endswith("_TRANSITIVE") else existing[-1:]
    backward = level.startswith(("BACKWARD", "FULL"))
    forward = level.startswith(("FORWARD", "FULL"))
    messages: list[str] = []
    for old in against:
        if backward:  # new readers must read old data
            messages += [f"BACKWARD: {m}" for m in incompatibilities(new, old)]
        if forward:  # old readers must read new data
            messages += [f"FORWARD: {m}" for m in incompatibilities(old, new)]
    return messages


# --------------------------------------------------------------------------- schema log


class SchemaLog(Protocol):
    """Append-only, keyed log of registry changes (compacted: last value per key wins)."""

    def replay(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Every (key, value) written so far, in order; ``None`` values are tombstones."""
        ...

    def append(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        """Write durably, or raise :class:`StoreError`."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryLog:
    """Keeps the log in this process only: nothing survives a restart."""

    def __init__(self) -> None:
        self.records: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def replay(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        yield from list(self.records)

    def append(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        self.records.append((key, value))

    def close(self) -> None:
        return None


class KafkaLog:
    """The log in a one-partition compacted topic on the broker.

    Replay writes a NOOP record carrying a fresh token and reads from the beginning until
    it sees that token (the broker's high watermark is not trusted: Tansu reports batch
    counts for it).
    """

    def __init__(self, bootstrap_servers: str, topic: str = SCHEMAS_TOPIC, timeout_s: float = 15.0) -> None:
        from confluent_kafka import Producer  # heavy import only when persisting

        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._timeout_s = timeout_s
        self._ensure_topic()
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": int(timeout_s * 1000),
                "logger": log,
            }
        )

    def _ensure_topic(self) -> None:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self._bootstrap, "logger": log})
        new = NewTopic(self._topic, num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})
        future = admin.create_topics([new], request_timeout=self._timeout_s)[self._topic]
        try:
            future.result(timeout=self._timeout_s)
            log.info("created compacted topic %s", self._topic)
        except KafkaException as exc:
            code = exc.args[0].code()
            if code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
                # The admin request's own timeout can fire before the future's (CI saw both).
                raise StoreError(f"broker {self._bootstrap} unreachable creating {self._topic}: {exc}") from exc
            if code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StoreError(f"cannot create topic {self._topic} on {self._bootstrap}: {exc}") from exc
        except Exception as exc:  # concurrent.futures.TimeoutError when the broker is down
            raise StoreError(f"broker {self._bootstrap} unreachable creating {self._topic}: {exc!r}") from exc

    def append(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        errors: list[Any] = []
        self._producer.produce(
            self._topic,
            key=json.dumps(key, sort_keys=True).encode(),
            value=None if value is None else json.dumps(value).encode(),
            partition=0,
            on_delivery=lambda err, _msg: errors.append(err),
        )
        left = self._producer.flush(self._timeout_s)
        if left or not errors or errors[0] is not None:
            reason = errors[0] if errors else "no delivery report"
            raise StoreError(f"write to {self._topic} failed: {reason}")

    def replay(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        token = uuid.uuid4().hex
        self.append({"keytype": "NOOP", "magic": 0}, {"token": token})
        consumer = Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": f"alpr-dev-registry-replay-{token}",  # never joined: assign() only
                "enable.auto.commit": False,
                "logger": log,
            }
        )
        consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + self._timeout_s
        try:
            while True:
                if time.monotonic() > deadline:
                    raise StoreError(f"replay of {self._topic} did not reach its marker in {self._timeout_s}s")
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("replay of %s: %s", self._topic, msg.error())
                    continue
                try:
                    key = json.loads(msg.key() or b"null")
                    value = None if msg.value() is None else json.loads(msg.value())
                except ValueError:
                    log.warning("skipping non-JSON record at %s offset %s", self._topic, msg.offset())
                    continue
                if not isinstance(key, dict):
                    log.warning("skipping record without a key object at offset %s", msg.offset())
                    continue
                if key.get("keytype") == "NOOP" and isinstance(value, dict) and value.get("token") == token:
                    return
                yield key, value
        finally:
            consumer.close()

    def close(self) -> None:
        self._producer.flush(self._timeout_s)


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class StoredSchema:
    """One distinct schema, by id."""

    schema_id: int
    text: str  # compact JSON, as returned to clients
    canonical: str  # sorted-key compact JSON: identity of the schema
    parsed: avro.schema.Schema


@dataclass(frozen=True)
class Version:
    """One version of a subject."""

    subject: str
    version: int
    schema_id: int
    deleted: bool


def parse_schema_request(body: Any) -> tuple[str, str, avro.schema.Schema]:
    """Validate a register/lookup/compatibility body; return (text, canonical, parsed).

    Raises :class:`RegistryError` 42201 for anything but a valid AVRO schema without references.
    """
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError(422, 42201, "Invalid schema: the body needs a 'schema' string.")
    schema_type = body.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise RegistryError(422, 42201, f"Invalid schema: schemaType {schema_type!r} is not supported (AVRO only).")
    if body.get("references"):
        raise RegistryError(422, 42201, "Invalid schema: schema references are not supported by the dev registry.")
    try:
        obj = json.loads(body["schema"])
        parsed = avro.schema.parse(body["schema"])
        fastavro.parse_schema(obj, named_schemas={})
    except Exception as exc:  # untrusted input: any parser failure means "invalid schema"
        raise RegistryError(422, 42201, f"Invalid schema: {exc!r}") from exc
    text = json.dumps(obj, separators=(",", ":"))
    canonical = json.dumps(obj, separators=(",", ":"), sort_keys=True)
    return text, canonical, parsed


def parse_version(subject: str, raw: str) -> int | None:
    """``latest``/``-1`` -> None, else a version number in [1, 2^31-1] (42202 otherwise)."""
    if raw in ("latest", "-1"):
        return None
    if raw.isdigit() and 1 <= int(raw) <= MAX_VERSION:
        return int(raw)
    raise RegistryError(
        422,
        42202,
        f"The specified version '{raw}' is not a valid version id. "
        f'Allowed values are between [1, {MAX_VERSION}] and the string "latest"',
    )


class Registry:
    """Subjects, versions, schemas and compatibility levels, backed by a :class:`SchemaLog`.

    Every change is appended to the log first and applied second, so the state is always
    what a replay of the log gives. One lock serialises all of it (dev traffic is tiny).
    """

    def __init__(self, schema_log: SchemaLog) -> None:
        self._log = schema_log
        self._lock = threading.RLock()
        self._schemas: dict[int, StoredSchema] = {}
        self._ids: dict[str, int] = {}  # canonical -> id
        self._subjects: dict[str, dict[int, Version]] = {}
        self._global_level = DEFAULT_LEVEL
        self._levels: dict[str, str] = {}
        replayed = 0
        for key, value in schema_log.replay():
            self._apply(key, value)
            replayed += 1
        log.info(
            "replayed %d record(s): %d schema(s), %d subject(s)",
            replayed,
            len(self._schemas),
            len(self._subjects),
        )

    # ---- the log

    def _apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        keytype = key.get("keytype")
        if keytype == "SCHEMA":
            subject, version = key.get("subject"), key.get("version")
            if not isinstance(subject, str) or not isinstance(version, int):
                log.warning("skipping SCHEMA record with a bad key %s", key)
                return
            if value is None:
                versions = self._subjects.get(subject, {})
                versions.pop(version, None)
                if not versions:
                    self._subjects.pop(subject, None)
                return
            try:
                schema_id = int(value["id"])
                if schema_id not in self._schemas:
                    text, canonical, parsed = parse_schema_request(value)
                    self._schemas[schema_id] = StoredSchema(schema_id, text, canonical, parsed)
                    self._ids.setdefault(canonical, schema_id)
            except (KeyError, ValueError, TypeError, RegistryError) as exc:
                log.warning("skipping SCHEMA record %s: %s", key, exc)
                return
            entry = Version(subject, version, schema_id, bool(value.get("deleted", False)))
            self._subjects.setdefault(subject, {})[version] = entry
        elif keytype == "CONFIG":
            subject = key.get("subject")
            level = None if value is None else value.get("compatibilityLevel")
            if level is not None and level not in LEVELS:
                log.warning("skipping CONFIG record with level %r", level)
            elif subject is None:
                self._global_level = level or DEFAULT_LEVEL
            elif level is None:
                self._levels.pop(subject, None)
            else:
                self._levels[subject] = level
        elif keytype != "NOOP":
            log.warning("skipping record of unknown keytype %r", keytype)

    def _write(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        try:
            self._log.append(key, value)
        except StoreError as exc:
            log.error("schema log write failed: %s", exc)
            raise RegistryError(500, 50001, f"Error in the backend data store: {exc}") from exc
        self._apply(key, value)

    def _write_version(self, entry: Version, text: str | None = None) -> None:
        """Log one version; ``text`` is the schema when its id is new (applying adds it)."""
        key = {"keytype": "SCHEMA", "subject": entry.subject, "version": entry.version, "magic": 1}
        value = {
            "subject": entry.subject,
            "version": entry.version,
            "id": entry.schema_id,
            "schema": text if text is not None else self._schemas[entry.schema_id].text,
            "deleted": entry.deleted,
        }
        self._write(key, value)

    # ---- lookups

    def _versions(self, subject: str, deleted: bool = False) -> list[Version]:
        """Versions of ``subject``, oldest first (soft-deleted ones only with ``deleted``)."""
        versions = self._subjects.get(subject, {})
        return [v for _, v in sorted(versions.items()) if deleted or not v.deleted]

    def _version(self, subject: str, raw: str, deleted: bool = False) -> Version:
        number = parse_version(subject, raw)
        versions = self._versions(subject, deleted)
        if not versions:
            raise _subject_not_found(subject)
        if number is None:
            return versions[-1]
        for entry in versions:
            if entry.version == number:
                return entry
        raise _version_not_found(subject, number)

    def _schema(self, schema_id: int) -> StoredSchema:
        stored = self._schemas.get(schema_id)
        if stored is None:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return stored

    def _level(self, subject: str) -> str:
        return self._levels.get(subject, self._global_level)

    def _describe(self, entry: Version) -> dict[str, Any]:
        return {
            "subject": entry.subject,
            "version": entry.version,
            "id": entry.schema_id,
            "schema": self._schemas[entry.schema_id].text,
        }

    # ---- API

    def subjects(self, deleted: bool = False) -> list[str]:
        with self._lock:
            return sorted(s for s in self._subjects if self._versions(s, deleted))

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        with self._lock:
            versions = self._versions(subject, deleted)
            if not versions:
                raise _subject_not_found(subject)
            return [v.version for v in versions]

    def get_version(self, subject: str, raw: str, deleted: bool = False) -> dict[str, Any]:
        with self._lock:
            return self._describe(self._version(subject, raw, deleted))

    def register(self, subject: str, body: Any) -> dict[str, Any]:
        """Register a schema under ``subject``; the same schema always gets the same id."""
        with self._lock:
            text, canonical, parsed = parse_schema_request(body)
            live = self._versions(subject)
            for entry in live:
                if self._schemas[entry.schema_id].canonical == canonical:
                    return {"id": entry.schema_id}
            messages = check_compatibility(
                parsed, [self._schemas[v.schema_id].parsed for v in live], self._level(subject)
            )
            if messages:
                raise RegistryError(
                    409,
                    409,
                    f"Schema being registered is incompatible with an earlier schema for subject "
                    f'"{subject}" ({self._level(subject)}), details: {messages}',
                )
            schema_id = self._ids.get(canonical) or max(self._schemas, default=0) + 1
            version = max(self._subjects.get(subject, {}), default=0) + 1
            self._write_version(Version(subject, version, schema_id, deleted=False), text)
            log.info("registered %s version %d as schema id %d", subject, version, schema_id)
            return {"id": schema_id}

    def lookup(self, subject: str, body: Any, deleted: bool = False) -> dict[str, Any]:
        with self._lock:
            _, canonical, _ = parse_schema_request(body)
            versions = self._versions(subject, deleted)
            if not versions:
                raise _subject_not_found(subject)
            for entry in versions:
                if self._schemas[entry.schema_id].canonical == canonical:
                    return self._describe(entry)
            raise RegistryError(404, 40403, "Schema not found")

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        with self._lock:
            return {"schema": self._schema(schema_id).text}

    def schema_versions(self, schema_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._schema(schema_id)
            return [
                {"subject": v.subject, "version": v.version}
                for s in sorted(self._subjects)
                for v in self._versions(s)
                if v.schema_id == schema_id
            ]

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        with self._lock:
            every = self._versions(subject, deleted=True)
            if not every:
                raise _subject_not_found(subject)
            live = [v for v in every if not v.deleted]
            if permanent:
                if live:
                    raise RegistryError(
                        404,
                        40405,
                        f"Subject '{subject}' was not deleted first before being permanently deleted",
                    )
                for entry in every:
                    key = {"keytype": "SCHEMA", "subject": subject, "version": entry.version, "magic": 1}
                    self._write(key, None)
                self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, None)
                return [v.version for v in every]
            if not live:
                raise RegistryError(
                    404,
                    40404,
                    f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
                )
            for entry in live:
                self._write_version(Version(subject, entry.version, entry.schema_id, deleted=True))
            return [v.version for v in live]

    def delete_version(self, subject: str, raw: str, permanent: bool = False) -> int:
        with self._lock:
            entry = self._version(subject, raw, deleted=permanent)
            if permanent:
                if not entry.deleted:
                    raise RegistryError(
                        404,
                        40407,
                        f"Subject '{subject}' Version {entry.version} was not deleted first "
                        "before being permanently deleted",
                    )
                self._write({"keytype": "SCHEMA", "subject": subject, "version": entry.version, "magic": 1}, None)
            else:
                self._write_version(Version(subject, entry.version, entry.schema_id, deleted=True))
            return entry.version

    def test_compatibility(self, subject: str, raw_version: str | None, body: Any) -> dict[str, Any]:
        """Is ``body`` compatible with one version (``raw_version``) or, if None, with the subject?"""
        with self._lock:
            _, _, parsed = parse_schema_request(body)
            level = self._level(subject)
            if raw_version is None:
                existing = [self._schemas[v.schema_id].parsed for v in self._versions(subject)]
                messages = check_compatibility(parsed, existing, level)
            else:
                entry = self._version(subject, raw_version)
                single = level.removesuffix("_TRANSITIVE")
                messages = check_compatibility(parsed, [self._schemas[entry.schema_id].parsed], single)
            return {"is_compatible": not messages, "messages": messages}

    def get_config(self, subject: str | None = None, default_to_global: bool = False) -> dict[str, Any]:
        with self._lock:
            if subject is None:
                return {"compatibilityLevel": self._global_level}
            level = self._levels.get(subject)
            if level is None:
                if not default_to_global:
                    raise RegistryError(
                        404,
                        40408,
                        f"Subject '{subject}' does not have subject-level compatibility configured",
                    )
                level = self._global_level
            return {"compatibilityLevel": level}

    def set_config(self, subject: str | None, body: Any) -> dict[str, Any]:
        with self._lock:
            level = body.get("compatibility") if isinstance(body, dict) else None
            if not isinstance(level, str) or level.upper() not in LEVELS:
                raise RegistryError(
                    422, 42203, f"Invalid compatibility level {level!r}; valid: {', '.join(sorted(LEVELS))}"
                )
            level = level.upper()
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, {"compatibilityLevel": level})
            return {"compatibility": level}

    def delete_config(self, subject: str) -> dict[str, Any]:
        with self._lock:
            old = self.get_config(subject)
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, None)
            return old


# --------------------------------------------------------------------------- HTTP

Handler = Callable[["Registry", dict[str, str], dict[str, str], Any], Any]


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "false").lower() == "true"


def _schema_id(raw: str) -> int:
    if not raw.isdigit():
        raise RegistryError(404, 40403, f"Schema {raw} not found")
    return int(raw)


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/"), lambda r, p, q, b: {}),
    ("GET", re.compile(r"/subjects"), lambda r, p, q, b: r.subjects(_flag(q, "deleted"))),
    ("GET", re.compile(r"/schemas/types"), lambda r, p, q, b: ["AVRO"]),
    (
        "GET",
        re.compile(r"/schemas/ids/(?P<id>[^/]+)"),
        lambda r, p, q, b: r.schema_by_id(_schema_id(p["id"])),
    ),
    (
        "GET",
        re.compile(r"/schemas/ids/(?P<id>[^/]+)/schema"),
        lambda r, p, q, b: json.loads(r.schema_by_id(_schema_id(p["id"]))["schema"]),
    ),
    (
        "GET",
        re.compile(r"/schemas/ids/(?P<id>[^/]+)/versions"),
        lambda r, p, q, b: r.schema_versions(_schema_id(p["id"])),
    ),
    (
        "GET",
        re.compile(r"/schemas/ids/(?P<id>[^/]+)/subjects"),
        lambda r, p, q, b: sorted({v["subject"] for v in r.schema_versions(_schema_id(p["id"]))}),
    ),
    (
        "GET",
        re.compile(r"/subjects/(?P<s>[^/]+)/versions"),
        lambda r, p, q, b: r.versions(p["s"], _flag(q, "deleted")),
    ),
    (
        "GET",
        re.compile(r"/subjects/(?P<s>[^/]+)/versions/(?P<v>[^/]+)"),
        lambda r, p, q, b: r.get_version(p["s"], p["v"], _flag(q, "deleted")),
    ),
    (
        "GET",
        re.compile(r"/subjects/(?P<s>[^/]+)/versions/(?P<v>[^/]+)/schema"),
        lambda r, p, q, b: json.loads(r.get_version(p["s"], p["v"], _flag(q, "deleted"))["schema"]),
    ),
    ("POST", re.compile(r"/subjects/(?P<s>[^/]+)/versions"), lambda r, p, q, b: r.register(p["s"], b)),
    (
        "POST",
        re.compile(r"/subjects/(?P<s>[^/]+)"),
        lambda r, p, q, b: r.lookup(p["s"], b, _flag(q, "deleted")),
    ),
    (
        "DELETE",
        re.compile(r"/subjects/(?P<s>[^/]+)"),
        lambda r, p, q, b: r.delete_subject(p["s"], _flag(q, "permanent")),
    ),
    (
        "DELETE",
        re.compile(r"/subjects/(?P<s>[^/]+)/versions/(?P<v>[^/]+)"),
        lambda r, p, q, b: r.delete_version(p["s"], p["v"], _flag(q, "permanent")),
    ),
    (
        "POST",
        re.compile(r"/compatibility/subjects/(?P<s>[^/]+)/versions/(?P<v>[^/]+)"),
        lambda r, p, q, b: r.test_compatibility(p["s"], p["v"], b),
    ),
    (
        "POST",
        re.compile(r"/compatibility/subjects/(?P<s>[^/]+)/versions"),
        lambda r, p, q, b: r.test_compatibility(p["s"], None, b),
    ),
    ("GET", re.compile(r"/config"), lambda r, p, q, b: r.get_config()),
    ("PUT", re.compile(r"/config"), lambda r, p, q, b: r.set_config(None, b)),
    (
        "GET",
        re.compile(r"/config/(?P<s>[^/]+)"),
        lambda r, p, q, b: r.get_config(p["s"], _flag(q, "defaultToGlobal")),
    ),
    ("PUT", re.compile(r"/config/(?P<s>[^/]+)"), lambda r, p, q, b: r.set_config(p["s"], b)),
    ("DELETE", re.compile(r"/config/(?P<s>[^/]+)"), lambda r, p, q, b: r.delete_config(p["s"])),
]


def route(registry: Registry, method: str, target: str, body: bytes) -> tuple[int, Any]:
    """Answer one request: (HTTP status, JSON body). Never raises."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    matched_path = False
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        matched_path = True
        if route_method != method:
            continue
        params = {k: unquote(v) for k, v in match.groupdict().items()}
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, {"error_code": 400, "message": "Request body is not valid JSON"}
        try:
            return 200, handler(registry, params, query, payload)
        except RegistryError as exc:
            return exc.status, {"error_code": exc.code, "message": exc.message}
        except Exception as exc:  # a bug must not kill the server thread silently
            log.exception("%s %s failed", method, target)
            return 500, {"error_code": 50001, "message": f"Internal error: {exc!r}"}
    if matched_path:
        return 405, {"error_code": 405, "message": f"HTTP {method} not allowed on {path}"}
    return 404, {"error_code": 404, "message": f"HTTP 404 Not Found: {path}"}


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "alpr-dev-registry/1"
    registry: Registry  # set on the subclass made by make_server
    authorization: str | None = None  # the Authorization header every request must carry

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        given = self.headers.get("Authorization")
        if self.authorization is not None and not hmac.compare_digest(given or "", self.authorization):
            status, payload = 401, {"error_code": 401, "message": "Unauthorized"}
        else:
            status, payload = route(self.registry, self.command, self.path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)


def make_server(
    host: str,
    port: int,
    registry: Registry,
    *,
    tls: ssl.SSLContext | None = None,
    authorization: str | None = None,
) -> ThreadingHTTPServer:
    """An HTTP server answering for ``registry`` (call ``serve_forever`` on it).

    With ``tls`` it speaks https; with ``authorization`` (``"Basic <base64 user:password>"`` or
    ``"Bearer <token>"``) any request without exactly that header gets 401, as a secured
    registry answers (for trying clients' TLS and auth settings; still dev-only).
    """
    handler = type("RegistryRequestHandler", (_RequestHandler,), {"registry": registry, "authorization": authorization})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    return server


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    """Run the dev-only registry until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m services.registry", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=18081, help="listen port (default 18081)")
    parser.add_argument("--bootstrap-servers", help="Kafka broker keeping the _schemas topic (omit: no persistence)")
    parser.add_argument("--topic", default=SCHEMAS_TOPIC, help="compacted topic of the schema log")
    parser.add_argument("--store-timeout", type=float, default=15.0, help="seconds to wait for the broker (default 15)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument("--tls-cert", help="PEM certificate (chain): serve https")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--basic-auth", metavar="USER:PASSWORD", help="require HTTP basic auth")
    parser.add_argument("--bearer-token", help="require Authorization: Bearer TOKEN")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.warning(DEV_ONLY_WARNING)

    schema_log: SchemaLog
    try:
        if args.bootstrap_servers:
            schema_log = KafkaLog(args.bootstrap_servers, args.topic, timeout_s=args.store_timeout)
        else:
            log.warning("no --bootstrap-servers: schemas are kept in memory only and lost on exit")
            schema_log = MemoryLog()
        registry = Registry(schema_log)
    except StoreError as exc:
        log.error("cannot start: %s", exc)
        return 2
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    authorization = None
    if args.basic_auth:
        user, _, password = args.basic_auth.partition(":")
        authorization = basic_authorization(user, password)
    elif args.bearer_token:
        authorization = f"Bearer {args.bearer_token}"
    try:
        server = make_server(args.host, args.port, registry, tls=tls, authorization=authorization)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        schema_log.close()
        return 2

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "listening on %s://%s:%s (log: %s)",
        "https" if tls else "http",
        args.host,
        server.server_port,
        args.bootstrap_servers or "memory",
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        schema_log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
