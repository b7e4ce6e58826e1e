"""Benchmark of plate search at scale: 10 million reads over 90 days across 200 cameras.

Creates a fresh database on the server, migrates it (``--storage``, default ``auto``: the
TimescaleDB path where the server preloads it), generates the reads inside the server
(:mod:`db.synthetic`, ``INSERT ... SELECT generate_series`` on ``--workers`` connections),
compresses the chunks older than 7 days as the compression policy would (TimescaleDB path; on
the plain path ``alpr_maintain()`` moves the days behind the premade partitions into their own),
then runs the API's own search SQL (:func:`api.search.run_search`, no audit row) one query
at a time for each kind:

- ``exact``: a plate that has reads, any time (what ``GET /events?plate=`` does);
- ``prefix``: its first 4 characters;
- ``fuzzy``: the plate with one character changed, ``max_distance=1``;
- ``camera_day``: one camera over one day, newest 50 (``camera_id=&start=&end=``);
- ``exact_7d``, ``fuzzy_7d``: the same searches limited to the last 7 days (the uncompressed
  chunks on the TimescaleDB path).

Reports p50/p99 per kind, the plan of one query per kind (indexes used, chunks or partitions
scanned, compressed chunks decompressed), load and compression times, disk per million reads,
the compression ratio, and what a shorter retention (10 days, or half, shorter) drops (chunk by chunk) and how long
it takes (in a transaction rolled back, so the database stays as loaded).

    python bench/search.py [--quick] [--json] [--rows N] [--samples N] [--budget-s S] [--storage PATH]
                           [--url URL] [--keep | --database NAME [--skip-retention]]

``--quick``: 200 000 reads over 14 days, 30 samples per kind. The server is
``--url`` / $ALPR_TEST_DATABASE_URL / $DATABASE_URL / postgresql://postgres@127.0.0.1:5432
(TimescaleDB needs a server that preloads it: see db/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from api.search import EventQuery, dictionary_for_exact, explain_search, run_search  # noqa: E402
from db.bulk import rebuild_dictionary, without_row_triggers  # noqa: E402
from db.connect import connect, with_database  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.plans import PlanSummary, summarise_plan  # noqa: E402
from db.synthetic import LETTERS, ReadSpec, camera_of, insert_reads, plate_of  # noqa: E402

P99_BUDGET_MS = 50.0
COMPRESS_AFTER = timedelta(days=7)


def server_url() -> str:
    """PostgreSQL server to create the benchmark database on."""
    return (
        os.environ.get("ALPR_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def progress(message: str) -> None:
    """One line of progress on stderr (stdout is the report)."""
    print(f"[bench/search.py {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load(url: str, spec: ReadSpec, workers: int, *, triggers: bool = False) -> tuple[float, float]:
    """Insert every row of ``spec`` on ``workers`` connections (contiguous slices): seconds taken by
    the load and by the dictionary's rebuild. Without ``triggers``, as a bulk import
    (:mod:`db.bulk`): the row triggers off during the load, the plate dictionary rebuilt once after
    (0 s with ``triggers``: the trigger kept it during the load)."""
    bounds = [1 + spec.rows * w // workers for w in range(workers + 1)]
    errors: list[BaseException] = []

    def work(lo: int, hi: int) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                if not triggers:
                    without_row_triggers(conn)
                step = 100_000  # short transactions: chunk creation locks the hypertable until commit
                for start in range(lo, hi, step):
                    for attempt in range(5):
                        try:
                            insert_reads(conn, spec, start, min(start + step, hi) - 1)
                            break
                        except psycopg.errors.DeadlockDetected:
                            # Both slices add new (plate, day) pairs to plate_dictionary in their
                            # own order: one is aborted and inserted again, as the flow's sink
                            # retries (flows/sinks/postgres.py).
                            if attempt == 4:
                                raise
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(bounds[w], bounds[w + 1])) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"load failed: {errors[0]}") from errors[0]
    loaded = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if not triggers:
            rebuild_dictionary(conn)
        rebuilt = time.perf_counter()
        conn.execute("VACUUM ANALYZE plate_events")
        conn.execute("VACUUM ANALYZE plate_dictionary")
    return loaded - started + time.perf_counter() - rebuilt, rebuilt - loaded


def compress(url: str, workers: int) -> tuple[float, int]:
    """Compress the chunks older than 7 days, as the policy would; (seconds, chunks)."""
    with psycopg.connect(url, autocommit=True) as conn:
        chunks = [
            r[0]
            for r in conn.execute(
                "SELECT c::text FROM show_chunks('plate_events', older_than => now() - %s) AS c",
                (COMPRESS_AFTER,),
            )
        ]
    queue = list(chunks)
    lock = threading.Lock()

    def work() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                with lock:
                    if not queue:
                        return
                    chunk = queue.pop()
                conn.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => true)", (chunk,))

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE plate_events")
    return time.perf_counter() - started, len(chunks)


def sizes(conn: psycopg.Connection[Any], path: str, rows: int) -> dict[str, Any]:
    """Disk of plate_events (heap + indexes + TOAST), per million reads, compression figures, and the
    plate dictionary (migration 0008: heap + primary key + two trigram indexes)."""
    if path == "timescaledb":
        total = conn.execute("SELECT hypertable_size('plate_events')").fetchone()[0]  # type: ignore[index]
        before, after, chunks = conn.execute(
            "SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes),"
            " sum(number_compressed_chunks) FROM hypertable_compression_stats('plate_events')"
        ).fetchone() or (None, None, 0)
    else:
        total = conn.execute(
            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'plate_events'::regclass"
        ).fetchone()[0]  # type: ignore[index]
        before = after = None
        chunks = 0
    total, before, after = (float(v) if v is not None else None for v in (total, before, after))
    plates, dictionary = conn.execute(
        "SELECT count(*), pg_total_relation_size('plate_dictionary') FROM plate_dictionary"
    ).fetchone() or (0, 0)
    return {
        "dictionary_plates": plates,
        "dictionary_mb": round(dictionary / 2**20, 1),
        "total_mb": round(total / 2**20, 1),
        "mb_per_million_reads": round(total / 2**20 / (rows / 1e6), 1),
        "compressed_chunks": int(chunks or 0),
        "compressed_before_mb": round(before / 2**20, 1) if before else None,
        "compressed_after_mb": round(after / 2**20, 1) if after else None,
        "compression_ratio": round(before / after, 1) if before and after else None,
    }


def queries(spec: ReadSpec, rng: random.Random, n: int) -> dict[str, list[EventQuery]]:
    """``n`` searches per kind, from rows drawn at random (so each plate has reads)."""
    out: dict[str, list[EventQuery]] = {k: [] for k in ("exact", "prefix", "fuzzy", "camera_day")}
    out |= {"exact_7d": [], "fuzzy_7d": []}
    week = spec.end - timedelta(days=7)
    recent_from = max(1, int(spec.rows * (1 - timedelta(days=7) / spec.span)))
    for _ in range(n):
        i = rng.randint(1, spec.rows)
        plate = plate_of(i, spec)
        pos = rng.randrange(len(plate))
        near = plate[:pos] + rng.choice([c for c in LETTERS if c != plate[pos]]) + plate[pos + 1 :]
        out["exact"].append(EventQuery(plate=plate))
        out["prefix"].append(EventQuery(plate=plate[:4], match="prefix"))
        out["fuzzy"].append(EventQuery(plate=near, match="fuzzy", max_distance=1))
        day = spec.end - timedelta(days=rng.uniform(1, spec.span.days - 1))
        out["camera_day"].append(EventQuery(camera_ids=(camera_of(i, spec),), start=day, end=day + timedelta(days=1)))
        recent = plate_of(rng.randint(recent_from, spec.rows), spec)
        out["exact_7d"].append(EventQuery(plate=recent, start=week))
        out["fuzzy_7d"].append(
            EventQuery(plate=recent[:-1] + ("A" if recent[-1] != "A" else "B"), match="fuzzy", start=week)
        )
    return out


def measure(conn: psycopg.Connection[Any], kind_queries: list[EventQuery], budget_s: float) -> dict[str, Any]:
    """Latency percentiles (ms) of running each query once, in order, and the rows they found.

    Stops after ``budget_s`` seconds (at least 5 queries): a kind that takes seconds per query
    reports fewer samples (``samples``), and its p99 is then close to its maximum.
    """
    latencies, found = [], []
    how = dictionary_for_exact(conn)  # read once, as the API does
    run_search(conn, kind_queries[0], exact_via_dictionary=how)  # warm the connection's caches for this query shape
    deadline = time.monotonic() + budget_s
    for query in kind_queries:
        if len(latencies) >= 5 and time.monotonic() > deadline:
            break
        started = time.perf_counter()
        page = run_search(conn, query, exact_via_dictionary=how)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(len(page.rows))
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "samples": len(latencies),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2),
        "mean_rows": round(statistics.fmean(found), 1),
        "with_rows": sum(1 for f in found if f),
        "p99_under_budget": q[98] < P99_BUDGET_MS,
    }


def plan_of(conn: psycopg.Connection[Any], query: EventQuery) -> PlanSummary:
    """The executed plan of ``query`` (EXPLAIN ANALYZE), summarised."""
    return summarise_plan(explain_search(conn, query))


def retention(conn: psycopg.Connection[Any], keep: timedelta) -> dict[str, Any]:
    """Apply a shorter retention with ``alpr_maintain`` in a transaction, then roll it back: what it
    dropped, chunk by chunk or partition by partition, and how long it took (the data stays)."""
    with conn.transaction(force_rollback=True):
        before = conn.execute("SELECT count(*) FROM plate_events").fetchone()[0]  # type: ignore[index]
        started = time.perf_counter()
        actions = [r[0] for r in conn.execute("SELECT * FROM alpr_maintain(%s)", (keep,))]
        seconds = time.perf_counter() - started
        after, oldest = conn.execute("SELECT count(*), min(first_seen) FROM plate_events").fetchone()  # type: ignore[misc]
    dropped = [a for a in actions if "dropped" in a]
    return {
        "keep_days": keep.days,
        "seconds": round(seconds, 2),
        "units_dropped": len(dropped),
        "rows_before": before,
        "rows_after": after,
        "oldest_left": oldest.isoformat() if oldest else None,
        "rolled_back": True,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 000 reads over 14 days, 30 samples.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--rows", type=int, default=None, help="Reads to generate (default 10 000 000).")
    parser.add_argument("--days", type=int, default=None, help="Days they span (default 90).")
    parser.add_argument("--samples", type=int, default=None, help="Searches per kind (default 200).")
    parser.add_argument("--budget-s", type=float, default=60.0, help="Seconds per search kind at most.")
    parser.add_argument("--workers", type=int, default=2, help="Connections loading / compressing.")
    parser.add_argument("--storage", default="auto", choices=("auto", "timescaledb", "partman", "native"))
    parser.add_argument("--url", default=None, help="Server URL (any database; a new one is created).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument(
        "--database",
        default=None,
        help="Use this database; when it holds reads already (an earlier --keep run of the same --rows),"
        " skip migrating, loading and compressing. Kept afterwards.",
    )
    parser.add_argument("--skip-retention", action="store_true", help="Do not apply the shorter retention.")
    parser.add_argument(
        "--triggers",
        action="store_true",
        help="Load with the plate dictionary's row trigger on (default: off, then one rebuild; db/bulk.py).",
    )
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    days = args.days or (14 if args.quick else 90)
    samples = args.samples or (30 if args.quick else 200)
    spec = ReadSpec(rows=rows, end=datetime.now(UTC), span=timedelta(days=days), plates=max(rows // 10, 10))

    server = args.url or server_url()
    name = args.database or f"alpr_bench_search_{os.getpid()}_{secrets.token_hex(3)}"
    url = with_database(server, name)
    load_s = compress_s = dictionary_s = 0.0
    compressed = 0
    try:
        migrate(url, storage=args.storage, retention_days=days + 30)
        with psycopg.connect(url, autocommit=True) as conn:
            path = conn.execute("SELECT path FROM storage_layout").fetchone()[0]  # type: ignore[index]
            newest, present = conn.execute("SELECT max(first_seen), count(*) FROM plate_events").fetchone()  # type: ignore[misc]
        if present:
            if present != rows:
                raise SystemExit(
                    f"database {name} holds {present} reads, not --rows {rows} (an interrupted load?):"
                    " drop it, or name another with --database"
                )
            spec = ReadSpec(rows=rows, end=newest, span=spec.span, plates=spec.plates)  # the same rows
        else:
            progress(f"loading {rows} reads into {name} ({path}; {args.workers} connections)")
            load_s, dictionary_s = load(url, spec, args.workers, triggers=args.triggers)
            progress(f"loaded in {load_s:.0f} s, plate dictionary rebuilt in {dictionary_s:.0f} s")
            if path == "timescaledb":
                progress("compressing the chunks older than 7 days")
                compress_s, compressed = compress(url, args.workers)
            else:  # partitions for the days behind the premade ones: `alpr db maintain`'s work
                started = time.perf_counter()
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("SELECT count(*) FROM alpr_maintain()")
                    conn.execute("VACUUM ANALYZE plate_events")  # moved rows: flush GIN pending lists
                compress_s = time.perf_counter() - started
        progress(f"searching ({samples} of each kind, at most {args.budget_s:g} s a kind)")
        with psycopg.connect(url, autocommit=True) as conn:
            disk = sizes(conn, path, rows)
            searches = queries(spec, random.Random(20261206), samples)
            results = {kind: measure(conn, qs, args.budget_s) for kind, qs in searches.items()}
            plans = {kind: plan_of(conn, qs[0]).as_dict() for kind, qs in searches.items()}
            expiry = None if args.skip_retention else retention(conn, timedelta(days=max(days - 10, days // 2)))
    finally:
        if not (args.keep or args.database):
            with connect(with_database(server, "postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    report = {
        "benchmark": "db.search_at_scale",
        "storage": path,
        "rows": rows,
        "days": days,
        "cameras": spec.cameras,
        "distinct_plates_drawn_from": spec.plates,
        "cpus": os.cpu_count(),
        "load_seconds": round(load_s, 1),
        "load_rows_per_s": round(rows / load_s) if load_s else None,
        "load_with_triggers": args.triggers,
        "dictionary_rebuild_seconds": round(dictionary_s, 1),  # after a load without triggers
        "compress_seconds": round(compress_s, 1),  # plain path: partitioning upkeep after the load
        "chunks_compressed": compressed,
        "disk": disk,
        "p99_budget_ms": P99_BUDGET_MS,
        "searches": results,
        "plans": plans,
        "retention": expiry,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{rows} reads over {days} days, {spec.cameras} cameras, path {path}; loaded in {load_s:.0f} s (0: reused)")
    if compressed:
        print(f"compressed {compressed} chunks in {compress_s:.0f} s")
    print(f"disk: {disk}")
    for kind, r in results.items():
        p = plans[kind]
        print(
            f"  {kind:11} p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  rows {r['mean_rows']:5.1f}"
            f"  scanned {p['relations_scanned']} (compressed {p['compressed_scanned']}) indexes {p['indexes']}"
        )
    print(f"retention: {expiry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
