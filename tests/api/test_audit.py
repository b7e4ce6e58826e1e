"""The audit writer: batches, a clean shutdown loses no row, a full queue refuses instead of dropping."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from api.app import make_pool
from api.audit import AuditBacklogError, AuditWriter
from tests.api.conftest import serve
from tests.waiting import wait_until

T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def _count(db, actor: str) -> int:
    return db.execute("SELECT count(*) FROM audit_log WHERE actor = %s", (actor,)).fetchone()[0]


@pytest.fixture
def pool(api_settings):
    pool = make_pool(api_settings, max_size=2)
    pool.open(wait=True)
    yield pool
    pool.close()


@pytest.mark.integration
def test_close_writes_every_queued_row(pool, db):
    actor = f"audit-close-{uuid.uuid4().hex[:6]}"
    writer = AuditWriter(pool.connection, flush_s=3600, now=lambda: T0).start()  # the timer never fires
    for i in range(250):
        writer.add(actor, "audit.test", {"n": i})
    assert writer.pending() == 250 and _count(db, actor) == 0
    assert writer.close() == 0
    assert _count(db, actor) == 250
    at, details = db.execute(
        "SELECT at, details FROM audit_log WHERE actor = %s AND details->>'n' = '7'", (actor,)
    ).fetchone()
    assert at == T0 and details == {"n": 7}  # stamped when added, not when written


@pytest.mark.integration
def test_full_batches_go_at_once_and_flush_writes_the_rest(pool, db):
    actor = f"audit-batch-{uuid.uuid4().hex[:6]}"
    writer = AuditWriter(pool.connection, flush_s=3600, batch_rows=100).start()
    try:
        for i in range(250):
            writer.add(actor, "audit.test", {"n": i})
        wait_until(lambda: _count(db, actor) == 200, "two full batches written without a flush")
        assert writer.pending() == 50
        assert writer.flush()
        assert _count(db, actor) == 250 and writer.pending() == 0
    finally:
        writer.close()


def test_a_full_queue_refuses_rows_and_close_reports_the_unwritten():
    @contextmanager
    def no_database():
        raise psycopg.OperationalError("connection refused")
        yield  # pragma: no cover

    writer = AuditWriter(no_database, flush_s=0.01, max_rows=5, retry_s=0.01).start()
    for i in range(5):
        writer.add("k", "audit.test", {"n": i})
    with pytest.raises(AuditBacklogError):
        writer.add("k", "audit.test", {"n": 5})
    assert not writer.flush(timeout_s=0.2)
    assert writer.close(timeout_s=5) == 5


@pytest.mark.integration
def test_api_shutdown_writes_the_queued_search_rows(api_settings, keys, db):
    """A search is answered once its row is queued; stopping the server writes them all."""
    api = api_settings.api.model_copy(update={"audit_flush_s": 10.0})
    settings = api_settings.model_copy(update={"api": api})
    plate = f"SD{uuid.uuid4().hex[:5].upper()}"
    with serve(settings) as url, httpx.Client(base_url=url, headers={"X-API-Key": keys.read}) as client:
        for _ in range(20):
            assert client.get("/events", params={"plate": plate}).status_code == 200
    rows = db.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'events.search' AND details->>'plate' = %s", (plate,)
    ).fetchone()[0]
    assert rows == 20


@pytest.mark.integration
def test_the_audit_trail_shows_queued_searches(api_settings, keys, db):
    """/admin/audit writes this process's queue first: a search shows at once, whatever audit_flush_s."""
    api = api_settings.api.model_copy(update={"audit_flush_s": 10.0})
    settings = api_settings.model_copy(update={"api": api})
    plate = f"TR{uuid.uuid4().hex[:5].upper()}"
    with serve(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        read, admin = {"X-API-Key": keys.read}, {"X-API-Key": keys.admin}
        assert client.get("/events", params={"plate": plate}, headers=read).status_code == 200
        trail = client.get(
            "/admin/audit", params={"actor": keys.read_name, "action": "events.search"}, headers=admin
        ).json()
        assert trail[0]["details"]["plate"] == plate


@pytest.mark.integration
def test_a_lone_row_is_written_within_flush_s(pool, db):
    actor = f"audit-lone-{uuid.uuid4().hex[:6]}"
    writer = AuditWriter(pool.connection, flush_s=0.05).start()
    try:
        writer.add(actor, "audit.test", {})
        wait_until(lambda: _count(db, actor) == 1, "the row written by the timer, with no flush or close")
    finally:
        writer.close()
