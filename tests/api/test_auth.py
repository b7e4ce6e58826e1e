"""Keys, roles, rate limits, CORS, body limits, health, readiness and metrics."""

from __future__ import annotations

import httpx
import pytest

from api.keys import KeyCache, hash_token, new_token
from api.ratelimit import RateLimiter
from tests.api.conftest import operations
from tests.waiting import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_tokens_are_random_and_only_their_hash_is_kept():
    a, b = new_token(), new_token()
    assert a != b and a.startswith("alpr_") and len(a) > 40
    assert hash_token(a) == hash_token(a) != hash_token(b) and a not in hash_token(a)


def test_rate_limiter_allows_a_burst_then_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.allow("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("k") == pytest.approx(0.5)
    assert limiter.allow("other") == 0.0  # per key
    clock.t = 0.5
    assert limiter.allow("k") == 0.0
    assert RateLimiter(0, 1, clock=clock).allow("k") == 0.0  # 0 = unlimited


def test_key_cache_asks_again_after_its_ttl():
    clock, calls = FakeClock(), []
    cache = KeyCache(lambda token: calls.append(token), 5.0, clock=clock)
    cache.get("t")
    cache.get("t")
    clock.t = 6
    cache.get("t")
    assert calls == ["t", "t"]


OPERATIONS = operations()
KEYED = [op for op in OPERATIONS if op.scheme is not None]
ADMIN = [op for op in OPERATIONS if op.scheme == "AdminKey"]


def test_the_document_names_a_role_for_every_route_and_every_write_needs_admin():
    """Read keys search, admin keys also change: every keyed write (and all of /admin) is an admin route."""
    assert {op.scheme for op in OPERATIONS} == {None, "ReadKey", "AdminKey"}
    public = {op.id for op in OPERATIONS if op.scheme is None}
    assert public == {"GET /health", "GET /ready"}, "a route without a key: list it here if it is meant to be public"
    writes = {op.id for op in KEYED if op.method != "GET" or op.path.startswith("/admin")}
    assert writes <= {op.id for op in ADMIN}
    assert len(ADMIN) >= 10


@pytest.mark.integration
@pytest.mark.parametrize("op", KEYED, ids=lambda op: op.id)
def test_auth_matrix(api_url, keys, op):
    """No, unknown or revoked key: 401 everywhere; a read key: 403 on every admin route, past auth elsewhere.
    No body is sent: the key is checked before the body (admin keys on admin routes: the fuzzer)."""

    def status(token):
        headers = {"X-API-Key": token} if token is not None else {}
        return httpx.request(op.method, api_url + op.sample_path(), headers=headers, timeout=30).status_code

    assert status(None) == 401
    assert status("alpr_not-a-key") == 401
    assert status(keys.revoked) == 401
    if op.scheme == "AdminKey":
        assert status(keys.read) == 403
    else:
        assert status(keys.read) not in (401, 403, 429)


@pytest.mark.integration
def test_revocation_takes_effect(api_url, db, reader):
    from api.keys import create_key, revoke_key

    key, token = create_key(db, f"short-lived-{new_token()[-6:]}", "read")
    assert httpx.get(api_url + "/watchlists", headers={"X-API-Key": token}).status_code == 200
    revoke_key(db, key.name)
    response = httpx.get(api_url + "/watchlists", headers={"X-API-Key": token})
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


@pytest.mark.integration
def test_a_revoked_key_is_refused_once_its_cache_entry_expires(api_settings, db):
    """With the production key cache (api.key_cache_s), a revoked key still in the cache is refused
    when its entry expires: within key_cache_s, by this process, with no restart."""
    import time

    from api.keys import create_key, revoke_key
    from tests.api.conftest import serve

    ttl_s = 1.0
    settings = api_settings.model_copy(update={"api": api_settings.api.model_copy(update={"key_cache_s": ttl_s})})
    key, token = create_key(db, f"cached-{new_token()[-6:]}", "read")
    with serve(settings) as url, httpx.Client(base_url=url, headers={"X-API-Key": token}) as client:
        assert client.get("/watchlists").status_code == 200  # cached from here on
        revoke_key(db, key.name)
        revoked_at = time.monotonic()
        wait_until(lambda: client.get("/watchlists").status_code == 401, "the revoked key refused")
        # Bound: the TTL, plus a request's time on a loaded machine.
        assert time.monotonic() - revoked_at < ttl_s + 5.0


def _local_app(api_settings, **api):
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = api_settings.model_copy(update={"api": api_settings.api.model_copy(update=api)})
    return TestClient(create_app(settings))


@pytest.mark.integration
def test_rate_limit_answers_429_with_retry_after(api_settings, keys):
    with _local_app(api_settings, rate_limit_per_s=0.01, rate_limit_burst=2) as client:
        codes = [client.get("/watchlists", headers={"X-API-Key": keys.read}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = client.get("/watchlists", headers={"X-API-Key": keys.read})
        assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.integration
def test_cors_is_closed_by_default_and_configurable(api_url, api_settings):
    preflight = {"Origin": "https://ops.example", "Access-Control-Request-Method": "GET"}
    closed = httpx.options(api_url + "/events", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    with _local_app(api_settings, cors_origins=("https://ops.example",)) as client:
        opened = client.options("/events", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://ops.example"
        other = client.options("/events", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.integration
def test_large_bodies_are_refused(admin, api_settings):
    too_big = "pattern\n" + "AB123CD\n" * (api_settings.api.max_body_bytes // 8 + 1)
    response = admin.post("/watchlists/1/import", content=too_big, headers={"Content-Type": "text/csv"})
    assert response.status_code == 413


@pytest.mark.integration
def test_health_ready_and_metrics(api_url, api_settings, reader):
    from prometheus_client import REGISTRY

    assert httpx.get(api_url + "/health").json() == {"status": "ok"}
    ready = httpx.get(api_url + "/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "s3": "ok", "broker": "ok"}
    labels = {"route": "/events/{event_id}", "method": "GET", "code": "404"}
    before = REGISTRY.get_sample_value("alpr_api_requests_total", labels) or 0
    reader.get("/events/00000000-0000-0000-0000-000000000000")

    def counted() -> bool:
        requests = REGISTRY.get_sample_value("alpr_api_requests_total", labels) or 0
        timed = REGISTRY.get_sample_value(
            "alpr_api_request_duration_seconds_count", {"route": labels["route"], "method": "GET"}
        )
        return requests >= before + 1 and (timed or 0) >= 1

    # The middleware counts once the response has been sent, so the client may see it first.
    wait_until(counted, "the 404 to be counted and timed")


def test_ready_reports_each_unreachable_dependency():
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from api.app import create_app
    from config.api import ApiSettings
    from config.settings import DatabaseSettings, KafkaSettings, S3Settings, Settings

    settings = Settings(
        api=ApiSettings(pool_timeout_s=1.0),
        database=DatabaseSettings(url=SecretStr("postgresql://postgres@127.0.0.1:1/none")),
        s3=S3Settings(endpoint="127.0.0.1:1"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert all(v != "ok" for v in checks.values()) and set(checks) == {"database", "s3", "broker"}
        assert client.get("/events", headers={"X-API-Key": "alpr_x"}).status_code == 503
