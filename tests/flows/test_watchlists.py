"""Watchlist loading from PostgreSQL and reload without a restart."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from db.migrate import migrate
from db.watchlists import add_entry, create_watchlist, remove_entry
from flows.watchlists import WatchlistStore, WatchlistUnavailableError
from operators.watchlist import Watchlist
from tests.fixtures.database import create_test_database, drop_test_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database_url(database_server_url):
    """A private migrated database: the store loads every list, so no other test's lists may be there."""
    url = create_test_database(database_server_url, "watchlists_")
    try:
        migrate(url)
        yield url
    finally:
        drop_test_database(url)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute("DELETE FROM watchlists")  # each test starts from no lists
        yield c


def _now() -> datetime:
    return datetime.now(UTC)


def test_load_builds_the_index_with_list_severity_and_channels(conn, database_url):
    stolen = create_watchlist(conn, "stolen", severity="high", channels=["hook", "slack"])
    vip = create_watchlist(conn, "vip", severity="low")
    exact = add_entry(conn, stolen, "ABC123")
    fuzzy = add_entry(conn, stolen, "XYZ789", "fuzzy", max_distance=1, severity="critical")
    regex = add_entry(conn, vip, "^VIP[0-9]+$", "regex")
    add_entry(conn, vip, "OLD111", expires_at=_now() - timedelta(minutes=1))  # expired: not loaded

    store = WatchlistStore(database_url)
    index = store.current
    assert isinstance(index, Watchlist) and len(index) == 3
    by_id = {e.entry_id: e for e in store.entries}
    assert set(by_id) == {exact, fuzzy, regex}
    assert (by_id[exact].watchlist, by_id[exact].severity, by_id[exact].channels) == (
        "stolen",
        "high",
        ("hook", "slack"),
    )
    assert by_id[fuzzy].severity == "critical"  # the entry's severity overrides the list's
    assert [e.entry_id for e, _ in index.match("ABC123", _now())] == [exact]
    assert [(e.entry_id, d) for e, d in index.match("XYZ78B", _now())] == [(fuzzy, 1)]
    assert [e.entry_id for e, _ in index.match("VIP42", _now())] == [regex]
    assert index.match("OLD111", _now()) == []
    store.close()


def test_refresh_reloads_only_on_change_and_sees_inserts_updates_deletes_and_expiry(conn, database_url):
    wl = create_watchlist(conn, "stolen")
    first = add_entry(conn, wl, "AAA111")
    store = WatchlistStore(database_url)
    assert store.refresh() is True and store.version == 1
    assert store.refresh() is False and store.version == 1  # nothing changed

    second = add_entry(conn, wl, "BBB222")
    assert store.refresh() is True
    assert {e.entry_id for e in store.entries} == {first, second}

    # An update that does not bump updated_at is seen too.
    conn.execute("UPDATE watchlist_entries SET pattern = 'CCC333' WHERE id = %s", (second,))
    assert store.refresh() is True
    assert store.current.match("CCC333", _now()) and not store.current.match("BBB222", _now())

    assert remove_entry(conn, first) and not remove_entry(conn, first)
    assert store.refresh() is True and [e.entry_id for e in store.entries] == [second]

    conn.execute("UPDATE watchlist_entries SET expires_at = now() + interval '1 second' WHERE id = %s", (second,))
    assert store.refresh() is True and len(store.entries) == 1
    time.sleep(1.1)
    assert store.refresh() is True and store.entries == ()  # expired since the last poll

    conn.execute("UPDATE watchlists SET channels = '{pager}' WHERE id = %s", (wl,))  # list change
    assert store.refresh() is True
    store.close()


def test_invalid_entry_is_skipped_and_reported_the_rest_loads(conn, database_url):
    wl = create_watchlist(conn, "mixed")
    good = add_entry(conn, wl, "GOOD12")
    bad = add_entry(conn, wl, "([unclosed", "regex")
    store = WatchlistStore(database_url)
    assert [e.entry_id for e, _ in store.current.match("GOOD12", _now())] == [good]
    assert [entry_id for entry_id, _ in store.skipped] == [bad]
    assert "not a valid regex" in store.skipped[0][1]
    store.close()


def test_polling_swaps_the_index_without_a_restart_while_readers_match(conn, database_url):
    wl = create_watchlist(conn, "live")
    store = WatchlistStore(database_url, reload_s=0.1).start()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                store.current.match("NEW999", _now())
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert store.current.match("NEW999", _now()) == []
        entry = add_entry(conn, wl, "NEW999")
        deadline = time.monotonic() + 5
        while not store.current.match("NEW999", _now()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.entry_id for e, _ in store.current.match("NEW999", _now())] == [entry]
    finally:
        stop.set()
        for t in threads:
            t.join()
        store.close()
    assert errors == []


def test_unreachable_database_keeps_the_last_index(conn, database_url):
    wl = create_watchlist(conn, "kept")
    add_entry(conn, wl, "KEEP01")
    store = WatchlistStore(database_url)
    index = store.current
    store.url = psycopg.conninfo.make_conninfo(database_url, port=1, connect_timeout=1)  # the DB "goes away"
    store._drop_connection()
    with pytest.raises(psycopg.OperationalError):
        store.refresh()
    store._poll_once()  # the poller logs and keeps going
    assert store.current is index and store.current.match("KEEP01", _now())
    store.close()


def test_first_load_waits_for_the_database_then_raises_a_clear_error():
    url = f"postgresql://postgres@127.0.0.1:1/nowhere_{secrets.token_hex(2)}?connect_timeout=1"
    store = WatchlistStore(url, first_load_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(WatchlistUnavailableError, match="cannot load watchlists"):
        _ = store.current
    assert time.monotonic() - started >= 0.5  # it retried before giving up
