"""schemathesis against the OpenAPI spec of the running API: no input makes it answer 5xx.

Bounded budget (``FUZZ_EXAMPLES`` per operation) so CI stays fast. Runs with an admin key on
a database of its own (it deletes and erases), so every route is reached past authentication.
/ready is left out: it is 503 by design when a dependency is down.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import insert_event, serve

FUZZ_EXAMPLES = int(os.environ.get("ALPR_API_FUZZ_EXAMPLES", "15"))


@schemathesis.serializer("text/csv")
def csv_body(ctx, value) -> bytes:
    """Generated CSV bodies are strings: send them as UTF-8."""
    return value.encode("utf-8") if isinstance(value, str) else str(value).encode()


def _spec() -> dict:
    """The OpenAPI document (building the app opens no connection)."""
    from api.app import create_app
    from config.settings import Settings

    return create_app(Settings()).openapi()


schema = schemathesis.openapi.from_dict(_spec()).exclude(path="/ready")


@pytest.fixture(scope="module")
def fuzz_target(make_database, api_settings):
    """(base URL, admin token) of an API on a database of its own: the fuzzer deletes and erases."""
    import psycopg
    from pydantic import SecretStr

    from api.keys import create_key

    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        _, token = create_key(conn, "fuzzer", "admin")
        for i, plate in enumerate(["AB123CD", "A8I23CD", "XY999ZZ"]):  # something to find
            insert_event(
                conn, plate=plate, camera_id=f"fz-{i}", first_seen=datetime.now(UTC) - timedelta(hours=i)
            )
    database = api_settings.database.model_copy(update={"url": SecretStr(url)})
    with serve(api_settings.model_copy(update={"database": database})) as base_url:
        yield base_url, token


@pytest.mark.integration
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
def test_no_server_errors(case, fuzz_target):
    base_url, token = fuzz_target
    response = case.call(base_url=base_url, headers={"X-API-Key": token})
    case.validate_response(response, checks=(not_a_server_error,))
