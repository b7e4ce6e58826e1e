"""The dev-only schema registry: compatibility rules, REST answers, replay of its log."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import avro.schema
import httpx
import pytest

from services.registry import (
    CONTENT_TYPE,
    MemoryLog,
    Registry,
    StoreError,
    check_compatibility,
    make_server,
)


def record(*fields: dict[str, Any], name: str = "R") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "io.alpr.test", "fields": list(fields)})


ID = {"name": "id", "type": "string"}
COUNT_INT = {"name": "count", "type": "int"}
COUNT_LONG = {"name": "count", "type": "long"}
NOTE_OPTIONAL = {"name": "note", "type": ["null", "string"], "default": None}
NOTE_REQUIRED = {"name": "note", "type": "string"}
KIND_AB = {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}}
KIND_ABC = {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B", "C"]}}
BOX_XY = {"name": "box", "type": {"type": "record", "name": "Box", "fields": [{"name": "x", "type": "int"}]}}
BOX_XY_STR = {
    "name": "box",
    "type": {"type": "record", "name": "Box", "fields": [{"name": "x", "type": "string"}]},
}

# (old schema, new schema, level, compatible?) -- edge cases first.
CASES = [
    (record(ID), record(ID), "BACKWARD", True),
    (record(ID), record(ID, NOTE_OPTIONAL), "BACKWARD", True),
    (record(ID), record(ID, NOTE_REQUIRED), "BACKWARD", False),
    (record(ID), record(ID, NOTE_REQUIRED), "NONE", True),
    (record(ID), record(ID, NOTE_REQUIRED), "FORWARD", True),
    (record(ID, NOTE_REQUIRED), record(ID), "BACKWARD", True),
    (record(ID, NOTE_REQUIRED), record(ID), "FORWARD", False),
    (record(ID, NOTE_OPTIONAL), record(ID), "FULL", True),
    (record(ID, NOTE_REQUIRED), record(ID), "FULL", False),
    (record(ID, COUNT_INT), record(ID, COUNT_LONG), "BACKWARD", True),
    (record(ID, COUNT_LONG), record(ID, COUNT_INT), "BACKWARD", False),
    (record(ID, COUNT_INT), record(ID, {"name": "count", "type": "string"}), "BACKWARD", False),
    (record(ID, KIND_AB), record(ID, KIND_ABC), "BACKWARD", True),
    (record(ID, KIND_ABC), record(ID, KIND_AB), "BACKWARD", False),
    (record(ID, KIND_AB), record(ID, KIND_ABC), "FORWARD", False),
    (record(ID, BOX_XY), record(ID, BOX_XY_STR), "BACKWARD", False),
    (
        record(ID, COUNT_INT),
        record(ID, {"name": "count", "type": ["null", "int"], "default": None}),
        "BACKWARD",
        True,
    ),
    (
        record(ID, {"name": "count", "type": ["null", "int"], "default": None}),
        record(ID, COUNT_INT),
        "BACKWARD",
        False,
    ),
    (record(ID), record(ID, name="Other"), "BACKWARD", False),
]


@pytest.mark.parametrize(("old", "new", "level", "ok"), CASES)
def test_compatibility_rules(old: str, new: str, level: str, ok: bool) -> None:
    messages = check_compatibility(avro.schema.parse(new), [avro.schema.parse(old)], level)
    assert (not messages) is ok, messages


def test_transitive_levels_check_every_version_not_only_the_latest() -> None:
    v1 = record(ID)
    v2 = record(ID, {"name": "note", "type": "string", "default": ""})
    v3 = record(ID, NOTE_REQUIRED)  # reads v2 data (note is there) but not v1 data
    existing = [avro.schema.parse(v1), avro.schema.parse(v2)]
    assert check_compatibility(avro.schema.parse(v3), existing, "BACKWARD") == []
    assert check_compatibility(avro.schema.parse(v3), existing, "FULL") == []
    assert check_compatibility(avro.schema.parse(v3), existing, "BACKWARD_TRANSITIVE") != []
    assert check_compatibility(avro.schema.parse(v3), existing, "FULL_TRANSITIVE") != []


# --------------------------------------------------------------------------- HTTP API


@pytest.fixture()
def api() -> Iterator[tuple[httpx.Client, MemoryLog]]:
    """A fresh in-process registry over real HTTP, and the log it writes."""
    schema_log = MemoryLog()
    server = make_server("127.0.0.1", 0, Registry(schema_log))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}", timeout=5) as client:
        yield client, schema_log
    server.shutdown()
    server.server_close()


def _register(client: httpx.Client, subject: str, schema: str) -> httpx.Response:
    return client.post(f"/subjects/{subject}/versions", json={"schema": schema})


def test_register_is_idempotent_and_ids_are_shared_across_subjects(api) -> None:
    client, _ = api
    first = _register(client, "a-value", record(ID))
    assert first.status_code == 200 and first.headers["content-type"] == CONTENT_TYPE
    # Same schema with other whitespace -> same id, no new version.
    again = _register(client, "a-value", json.dumps(json.loads(record(ID)), indent=2))
    assert again.json() == first.json() == {"id": 1}
    assert client.get("/subjects/a-value/versions").json() == [1]
    assert _register(client, "b-value", record(ID)).json() == {"id": 1}
    assert _register(client, "a-value", record(ID, NOTE_OPTIONAL)).json() == {"id": 2}
    assert client.get("/subjects").json() == ["a-value", "b-value"]
    assert client.get("/schemas/ids/1/versions").json() == [
        {"subject": "a-value", "version": 1},
        {"subject": "b-value", "version": 1},
    ]
    latest = client.get("/subjects/a-value/versions/latest").json()
    assert latest == {
        "subject": "a-value",
        "version": 2,
        "id": 2,
        "schema": json.dumps(json.loads(record(ID, NOTE_OPTIONAL)), separators=(",", ":")),
    }
    assert client.get("/subjects/a-value/versions/1").json()["id"] == 1
    assert json.loads(client.get("/schemas/ids/2").json()["schema"]) == json.loads(record(ID, NOTE_OPTIONAL))


def test_lookup_finds_the_version_of_a_schema(api) -> None:
    client, _ = api
    _register(client, "a-value", record(ID))
    _register(client, "a-value", record(ID, NOTE_OPTIONAL))
    found = client.post("/subjects/a-value", json={"schema": record(ID)})
    assert found.json()["version"] == 1 and found.json()["id"] == 1
    missing = client.post("/subjects/a-value", json={"schema": record(ID, COUNT_INT)})
    assert (missing.status_code, missing.json()["error_code"]) == (404, 40403)


def test_incompatible_registration_is_409_and_changes_nothing(api) -> None:
    client, schema_log = api
    _register(client, "a-value", record(ID))
    written = len(schema_log.records)
    refused = _register(client, "a-value", record(ID, NOTE_REQUIRED))
    assert refused.status_code == 409 and refused.json()["error_code"] == 409
    assert "note" in refused.json()["message"]
    assert len(schema_log.records) == written
    assert client.get("/subjects/a-value/versions").json() == [1]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/subjects/nope/versions", None, 404, 40401),
        ("GET", "/subjects/a-value/versions/9", None, 404, 40402),
        ("GET", "/subjects/a-value/versions/0", None, 422, 42202),
        ("GET", "/subjects/a-value/versions/x", None, 422, 42202),
        ("GET", "/schemas/ids/99", None, 404, 40403),
        ("POST", "/subjects/a-value/versions", {"schema": "{not json"}, 422, 42201),
        ("POST", "/subjects/a-value/versions", {"schema": '{"type": "record", "name": "R"}'}, 422, 42201),
        ("POST", "/subjects/a-value/versions", {"schema": '"string"', "schemaType": "JSON"}, 422, 42201),
        ("POST", "/subjects/a-value/versions", {"nothing": 1}, 422, 42201),
        ("POST", "/subjects/nope", {"schema": '"string"'}, 404, 40401),
        ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("GET", "/config/a-value", None, 404, 40408),
        ("DELETE", "/subjects/nope", None, 404, 40401),
        ("POST", "/compatibility/subjects/nope/versions/latest", {"schema": '"string"'}, 404, 40401),
        ("GET", "/no/such/path", None, 404, 404),
        ("DELETE", "/schemas/ids/1", None, 405, 405),
    ],
)
def test_errors_carry_confluent_codes(api, method: str, path: str, body: Any, status: int, code: int) -> None:
    client, _ = api
    _register(client, "a-value", record(ID))
    answer = client.request(method, path, json=body)
    assert (answer.status_code, answer.json()["error_code"]) == (status, code), answer.json()
    assert answer.json()["message"]


def test_malformed_request_body_is_400(api) -> None:
    client, _ = api
    answer = client.post("/subjects/a-value/versions", content=b"{oops", headers={"Content-Type": CONTENT_TYPE})
    assert answer.status_code == 400


def test_config_levels_global_and_per_subject(api) -> None:
    client, _ = api
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert client.put("/config/a-value", json={"compatibility": "none"}).json() == {"compatibility": "NONE"}
    assert client.get("/config/a-value").json() == {"compatibilityLevel": "NONE"}
    assert client.get("/config/b-value?defaultToGlobal=true").json() == {"compatibilityLevel": "BACKWARD"}
    _register(client, "a-value", record(ID))
    assert _register(client, "a-value", record(COUNT_INT)).status_code == 200  # NONE: anything goes
    _register(client, "b-value", record(ID))
    assert _register(client, "b-value", record(COUNT_INT)).status_code == 409
    assert client.put("/config", json={"compatibility": "NONE"}).status_code == 200
    assert _register(client, "b-value", record(COUNT_INT)).status_code == 200
    assert client.delete("/config/a-value").json() == {"compatibilityLevel": "NONE"}
    assert client.get("/config/a-value").status_code == 404


def test_compatibility_endpoint_answers_without_registering(api) -> None:
    client, _ = api
    _register(client, "a-value", record(ID))
    ok = client.post("/compatibility/subjects/a-value/versions/latest", json={"schema": record(ID, NOTE_OPTIONAL)})
    assert ok.json() == {"is_compatible": True, "messages": []}
    bad = client.post("/compatibility/subjects/a-value/versions/1", json={"schema": record(ID, NOTE_REQUIRED)})
    assert bad.json()["is_compatible"] is False and bad.json()["messages"]
    every = client.post("/compatibility/subjects/a-value/versions", json={"schema": record(ID, NOTE_REQUIRED)})
    assert every.json()["is_compatible"] is False
    assert client.get("/subjects/a-value/versions").json() == [1]


def test_soft_then_permanent_delete(api) -> None:
    client, _ = api
    _register(client, "a-value", record(ID))
    _register(client, "a-value", record(ID, NOTE_OPTIONAL))
    assert client.delete("/subjects/a-value?permanent=true").json()["error_code"] == 40405
    assert client.delete("/subjects/a-value").json() == [1, 2]
    assert client.get("/subjects").json() == []
    assert client.get("/subjects?deleted=true").json() == ["a-value"]
    assert client.delete("/subjects/a-value").json()["error_code"] == 40404
    # Re-registering after a soft delete makes a new version with the old id.
    assert _register(client, "a-value", record(ID)).json() == {"id": 1}
    assert client.get("/subjects/a-value/versions").json() == [3]
    assert client.get("/schemas/ids/2").status_code == 200  # ids outlive subject deletes
    client.delete("/subjects/a-value")
    assert client.delete("/subjects/a-value?permanent=true").json() == [1, 2, 3]
    assert client.get("/subjects?deleted=true").json() == []


def test_state_is_rebuilt_from_its_log(api) -> None:
    client, schema_log = api
    _register(client, "a-value", record(ID))
    _register(client, "a-value", record(ID, NOTE_OPTIONAL))
    _register(client, "b-value", record(COUNT_INT))
    client.put("/config/b-value", json={"compatibility": "FULL"})
    client.delete("/subjects/a-value/versions/1")
    replayed = Registry(schema_log)
    assert replayed.subjects() == ["a-value", "b-value"]
    assert replayed.versions("a-value") == [2]
    assert replayed.versions("a-value", deleted=True) == [1, 2]
    assert replayed.get_version("b-value", "latest")["id"] == 3
    assert replayed.get_config("b-value") == {"compatibilityLevel": "FULL"}
    assert replayed.register("c-value", {"schema": record(ID, name="New")}) == {"id": 4}


def test_a_failing_log_write_is_a_500_and_nothing_is_applied() -> None:
    class FailingLog(MemoryLog):
        def append(self, key, value) -> None:
            raise StoreError("broker down")

    registry = Registry(FailingLog())
    with pytest.raises(Exception, match="backend data store") as caught:
        registry.register("a-value", {"schema": record(ID)})
    assert caught.value.status == 500 and caught.value.code == 50001
    assert registry.subjects() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_broker_fails_start_with_a_clear_error() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "services.registry", "--port", str(_free_port()),
            "--bootstrap-servers", f"127.0.0.1:{_free_port()}", "--store-timeout", "2",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "DEV-ONLY" in done.stderr and "cannot start" in done.stderr and "unreachable" in done.stderr
    assert time.monotonic() - started < 30
