"""The API's searches at small scale, on both storage paths: right rows, indexes used, time pruned.

30 000 synthetic reads over 10 full days (db.synthetic), 20 cameras. On the TimescaleDB path the
compression policy job runs first, so the 3 oldest daily chunks are compressed and searches
meet both kinds of chunk. The 10-million-row figures come from bench/search.py (not in CI).
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from api.search import EventQuery, dictionary_for_exact, explain_search, run_search
from db.plans import PlanSummary, summarise_plan
from db.synthetic import ReadSpec, camera_of, insert_reads, plate_of
from tests.db.conftest import STORAGE_PATHS, days_to_today, upkeep

pytestmark = pytest.mark.integration

DAYS = 10


@pytest.fixture(scope="module", params=STORAGE_PATHS)
def scaled(request, make_path_database) -> tuple[str, str, ReadSpec]:
    """(path, url, spec): a database of each path holding the spec's reads, upkeep done."""
    spec = days_to_today(30_000, DAYS, 3_000)
    url = make_path_database(request.param)
    with psycopg.connect(url, autocommit=True) as conn:
        assert insert_reads(conn, spec) == spec.rows
        upkeep(conn, request.param)
    return request.param, url, spec


def _plan(url: str, query: EventQuery, exact_via_dictionary: bool | None = None) -> tuple[PlanSummary, set[str]]:
    """The plan with seq scans off (at this scale one is cheaper; the index must still be usable),
    and the plate_events indexes it uses: chunk / partition indexes named by their parent index."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = summarise_plan(explain_search(conn, query, exact_via_dictionary=exact_via_dictionary))
        parents = {
            conn.execute(
                "SELECT coalesce((SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid),"
                " c.relname) FROM pg_class c WHERE c.relname = %s AND c.relkind IN ('i', 'I')",
                (name,),
            ).fetchone()[0]  # type: ignore[index]
            for name in plan.index_names
        }
    # TimescaleDB chunk indexes are not attached to a parent: their name carries the parent's.
    return plan, {p for p in parents if p.startswith("plate_events_")} | set(plan.indexes)


def _children(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'plate_events'::regclass").fetchone()[0]  # type: ignore[index]


def test_upkeep_left_old_reads_where_searches_expect_them(scaled):
    path, url, _ = scaled
    with psycopg.connect(url) as conn:
        if path == "timescaledb":  # the policy compressed the chunks older than 7 days, only those
            state = conn.execute(
                "SELECT count(*) FILTER (WHERE is_compressed), count(*),"
                " bool_and(range_end <= now() - interval '7 days') FILTER (WHERE is_compressed)"
                " FROM timescaledb_information.chunks WHERE hypertable_name = 'plate_events'"
            ).fetchone()
            assert state == (3, DAYS, True)
        else:  # every read is in its day's partition, none waits in the default one
            assert conn.execute("SELECT count(*) FROM plate_events_default").fetchone() == (0,)
            days = conn.execute("SELECT count(DISTINCT tableoid) FROM plate_events").fetchone()[0]  # type: ignore[index]
            assert days == DAYS


def _days_of(url: str, plates: list[str]) -> tuple[int, int]:
    """(days with reads of ``plates``, those of them older than 7 days: compressed on TimescaleDB)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(DISTINCT d), count(DISTINCT d) FILTER (WHERE d < (now() - interval '7 days')::date)"
            " FROM (SELECT (first_seen AT TIME ZONE 'UTC')::date AS d FROM plate_events WHERE plate = ANY(%s)) AS r",
            (plates,),
        ).fetchone()  # type: ignore[return-value]


def test_exact_search_reads_only_the_plates_days_through_the_dictionary(scaled):
    """The dictionary's way for an exact plate (TimescaleDB's choice; on plain partitions asked for)."""
    path, url, spec = scaled
    plate = plate_of(12_345, spec)
    with psycopg.connect(url, autocommit=True) as conn:
        expected = conn.execute("SELECT count(*) FROM plate_events WHERE plate = %s", (plate,)).fetchone()[0]  # type: ignore[index]
        page = run_search(conn, EventQuery(plate=plate, limit=100), exact_via_dictionary=True)
    assert expected >= 1 and len(page.rows) == expected
    assert {r["plate"] for r in page.rows} == {plate}
    plan, indexes = _plan(url, EventQuery(plate=plate), exact_via_dictionary=True)
    days, old = _days_of(url, [plate])
    assert days < DAYS, days  # else "only its days" proves nothing
    assert plan.seq_scanned == 0, plan
    assert {"plate_dictionary_pkey", "plate_events_plate_time_idx"} <= indexes, plan
    assert plan.relations_scanned == days, plan  # one chunk / partition per day of the plate, no other
    if path == "timescaledb":  # compressed chunks: only batches whose bloom filter may hold the plate
        assert old >= 1 and plan.compressed_scanned == old and plan.bloom_filtered == old, plan


def test_each_path_searches_exact_plates_its_own_way(scaled):
    """TimescaleDB: through the dictionary (compressed chunks have no plate index). Plain partitions:
    one direct statement, prepared on the connection once it has run a few times (psycopg's
    threshold), that reads the plate index of each partition: the same rows."""
    path, url, spec = scaled
    plates = [plate_of(n, spec) for n in (12_345, 777, 29_999, 4_242, 15_000, 8, 21_212, 3_003)]
    with psycopg.connect(url, autocommit=True) as conn:
        assert dictionary_for_exact(conn) is (path == "timescaledb")
        for plate in plates:
            page = run_search(conn, EventQuery(plate=plate, limit=100))
            assert page.rows == run_search(conn, EventQuery(plate=plate, limit=100), exact_via_dictionary=True).rows
            assert page.rows and {r["plate"] for r in page.rows} == {plate}
        prepared = [sql for (sql,) in conn.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")]
    direct_prepared = [s for s in prepared if "FROM plate_events" in s and "plate_dictionary" not in s]
    assert bool(direct_prepared) is (path == "plain"), prepared
    plan, indexes = _plan(url, EventQuery(plate=plates[0]))
    if path == "plain":  # every partition's plate index, nothing of the dictionary
        assert plan.seq_scanned == 0 and "plate_dictionary_pkey" not in indexes, plan
        assert "plate_events_plate_time_idx" in indexes, plan
    else:
        assert "plate_dictionary_pkey" in indexes, plan


def _compressed_scans(url: str, query: EventQuery) -> list[tuple[str, str, int]]:
    """(node type, index, batches read) of each scan of a compressed chunk's batches (``compress_hyper``
    tables: one row per camera and up to 1 000 reads; a bitmap scan's index is its child's), seq
    scans off as in :func:`_plan`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        explained = explain_search(conn, query)
    found: list[tuple[str, str, int]] = []
    nodes = [explained[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Relation Name", "").startswith("compress_") and node.get("Actual Loops", 0) > 0:
            batches = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            index = node.get("Index Name") or " ".join(c.get("Index Name", "") for c in node.get("Plans", []))
            found.append((node["Node Type"], index, batches))
    return found


@pytest.mark.parametrize("scaled", ["timescaledb"], indirect=True)  # compressed chunks are TimescaleDB's
def test_dictionary_search_reads_only_the_batches_of_the_plates_cameras(scaled):
    """On compressed chunks (segmented by camera) the plate's cameras, from the dictionary, select
    their batches through the segment-by index: no bloom filter of another camera's batch is read."""
    path, url, spec = scaled
    assert path == "timescaledb"
    with psycopg.connect(url) as conn:
        old = "(first_seen AT TIME ZONE 'UTC')::date < (now() - interval '7 days')::date"
        plate, cameras = conn.execute(
            f"SELECT plate, count(DISTINCT camera_id) FROM plate_events WHERE {old}"
            " GROUP BY plate HAVING count(*) >= 2 ORDER BY plate LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        listed = conn.execute("SELECT cardinality(cameras) FROM plate_dictionary WHERE plate = %s", (plate,)).fetchone()
    assert listed is not None and listed[0] < spec.cameras  # else "only its cameras" proves nothing
    scans = _compressed_scans(url, EventQuery(plate=plate, limit=100))
    assert scans, "no compressed chunk read"
    for node, index, batches in scans:
        assert node in ("Index Scan", "Bitmap Heap Scan") and "camera_id" in index, scans  # segment-by index
        assert 1 <= batches <= listed[0], scans  # one batch per camera of the plate at most, not 20
    assert sum(b for *_, b in scans) >= cameras >= 1
    # A prefix: the union of its candidates' cameras, still not every camera's batches.
    prefix = EventQuery(plate=plate[:5], match="prefix", limit=100)
    assert all("camera_id" in i and b < spec.cameras for _, i, b in _compressed_scans(url, prefix))


@pytest.mark.parametrize("match", ["prefix", "fuzzy", "confusion"])
def test_plate_searches_over_every_day_take_candidates_from_the_dictionary(scaled, match):
    path, url, spec = scaled
    plate = plate_of(4_321, spec)
    text = {"prefix": plate[:4], "fuzzy": plate[:-1] + ("A" if plate[-1] != "A" else "B"), "confusion": plate}[match]
    query = EventQuery(plate=text, match=match, limit=100)  # type: ignore[arg-type]
    with psycopg.connect(url, autocommit=True) as conn:
        page = run_search(conn, query)
        found = sorted({r["plate"] for r in page.rows})
    assert plate in found
    plan, indexes = _plan(url, query)
    dictionary_index = "plate_dictionary_pkey" if match == "prefix" else "plate_dictionary_plate_trgm_idx"
    if match == "confusion":
        dictionary_index = "plate_dictionary_fold_trgm_idx"
    assert dictionary_index in indexes, plan
    assert "plate_events_plate_time_idx" in indexes, plan  # reads by exact candidate plate
    days, old = _days_of(url, found)
    assert plan.relations_scanned == days and plan.seq_scanned == 0, plan
    if path == "timescaledb":  # nothing decompressed beyond the bloom-filtered batches
        assert plan.compressed_scanned == old == plan.bloom_filtered, plan


def test_camera_day_search_reads_one_partition_through_the_camera_index(scaled):
    path, url, spec = scaled
    day = spec.end.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=8)  # compressed on TS
    camera = camera_of(777, spec)
    query = EventQuery(camera_ids=(camera,), start=day, end=day + timedelta(days=1), limit=20)
    with psycopg.connect(url, autocommit=True) as conn:
        page = run_search(conn, query)
    assert len(page.rows) == 20 and {r["camera_id"] for r in page.rows} == {camera}
    assert all(day <= r["first_seen"] < day + timedelta(days=1) for r in page.rows)
    plan, indexes = _plan(url, query)
    assert _children(url) >= DAYS
    assert plan.relations_scanned == 1, plan
    assert plan.seq_scanned == 0 and indexes, plan
    if path == "timescaledb":
        assert plan.compressed_scanned == 1, plan  # served by the segment-by (camera) index
        assert any(name.startswith("camera_id_") for name in indexes), plan


@pytest.mark.parametrize("match", ["prefix", "fuzzy"])
def test_recent_prefix_and_fuzzy_search_prune_and_use_the_trigram_index(scaled, match):
    _, url, spec = scaled
    plate = plate_of(spec.rows - 1_000, spec)  # a read of the last day
    text = plate[:4] if match == "prefix" else plate[:-1] + ("A" if plate[-1] != "A" else "B")
    today = spec.end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    window = {"start": today - timedelta(days=2), "end": today}
    query = EventQuery(plate=text, match=match, **window)  # type: ignore[arg-type]
    with psycopg.connect(url, autocommit=True) as conn:
        page = run_search(conn, query)
    assert plate in {r["plate"] for r in page.rows}
    plan, indexes = _plan(url, query)
    assert plan.relations_scanned == 2, plan  # of DAYS daily partitions / chunks (and empty ones ahead)
    # The trigram index or, newest first, the time index: at this scale either is cheaper than the
    # other by turns (test_search_and_views proves the trigram index serves these operators).
    assert plan.seq_scanned == 0 and indexes, plan
