"""schemathesis against the OpenAPI spec of the running API: no input makes it answer 5xx.

Bounded budget (``FUZZ_EXAMPLES`` per operation and key) so CI stays fast. Runs on a database of
its own (it deletes and erases), once with an admin key, so every route is reached past
authentication, and once with a read key, which must never succeed on an admin route (the
document's ``AdminKey`` scheme). /ready is left out: it is 503 by design when a dependency is down.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import insert_event, openapi_document, operations, serve

FUZZ_EXAMPLES = int(os.environ.get("ALPR_API_FUZZ_EXAMPLES", "15"))


@schemathesis.serializer("text/csv")
def csv_body(ctx, value) -> bytes:
    """Generated CSV bodies are strings: send them as UTF-8."""
    return value.encode("utf-8") if isinstance(value, str) else str(value).encode()


schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/ready")
ADMIN_ROUTES = {op.id for op in operations() if op.scheme == "AdminKey"}


@pytest.fixture(scope="module")
def fuzz_target(make_database, api_settings):
    """(base URL, {role: token}) of an API on a database of its own: the fuzzer deletes and erases."""
    import psycopg
    from pydantic import SecretStr

    from api.keys import create_key

    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        tokens = {role: create_key(conn, f"fuzzer-{role}", role)[1] for role in ("admin", "read")}
        for i, plate in enumerate(["AB123CD", "A8I23CD", "XY999ZZ"]):  # something to find
            insert_event(conn, plate=plate, camera_id=f"fz-{i}", first_seen=datetime.now(UTC) - timedelta(hours=i))
    database = api_settings.database.model_copy(update={"url": SecretStr(url)})
    with serve(api_settings.model_copy(update={"database": database})) as base_url:
        yield base_url, tokens


@pytest.mark.integration
@pytest.mark.parametrize("role", ["admin", "read"])
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_server_errors(case, fuzz_target, role):
    base_url, tokens = fuzz_target
    response = case.call(base_url=base_url, headers={"X-API-Key": tokens[role]})
    case.validate_response(response, checks=(not_a_server_error,))
    if role == "read" and f"{case.method.upper()} {case.path}" in ADMIN_ROUTES:
        assert not 200 <= response.status_code < 300, f"a read key changed something: {response.status_code}"
