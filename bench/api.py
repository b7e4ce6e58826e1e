"""Benchmark of plate search: the REST API vs the same search as raw SQL, in the same run.

Loads ``--rows`` plate reads (1 million by default; ``--quick``: 100 000) with COPY into a fresh
database, starts `alpr api serve` as a separate process, then runs a closed-loop load of exact
plate searches (``GET /events?plate=...``, random plates that exist) at rising concurrency,
and the same search's SQL (``api.search.search_sql``) straight over psycopg. Reports per level
requests/s and latency percentiles, the best requests/s whose p99 stays under 100 ms for
each, and their ratio. The API's figure includes what it does per request beyond the SQL:
key check, audit row, JSON.

    python bench/api.py [--quick] [--json] [--rows N] [--seconds S]

The database server is $ALPR_TEST_DATABASE_URL / $DATABASE_URL / postgresql://postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from api.keys import create_key  # noqa: E402
from api.search import EventQuery, search_sql  # noqa: E402
from db.connect import connect, with_database  # noqa: E402
from db.migrate import migrate  # noqa: E402

P99_BUDGET_S = 0.100


def server_url() -> str:
    """PostgreSQL server to create the benchmark database on."""
    return (
        os.environ.get("ALPR_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def make_plates(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct UK-style plates (AA00AAA)."""
    letters = "ABCDEFGHJKLMNOPRSTUVWXYZ"
    plates: set[str] = set()
    while len(plates) < n:
        plates.add(
            "".join(rng.choice(letters) for _ in range(2))
            + f"{rng.randrange(100):02d}"
            + "".join(rng.choice(letters) for _ in range(3))
        )
    return sorted(plates)


def load(url: str, rows: int, plates: list[str], rng: random.Random, now: datetime) -> float:
    """COPY ``rows`` reads spread over the last 3 days (inside the premade partitions); seconds taken.

    ``plates`` is trimmed to the plates that got at least one read.
    """
    started = time.perf_counter()
    used: set[str] = set()
    with psycopg.connect(url, autocommit=False) as conn:
        with conn.cursor().copy(
            "COPY plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id, plate,"
            " plate_raw, region, confidence, sightings, provisional) FROM STDIN"
        ) as copy:
            for i in range(rows):
                t = now - timedelta(seconds=rng.random() * 3 * 86400)
                plate = plates[rng.randrange(len(plates))]
                used.add(plate)
                camera = f"cam-{i % 50:02d}"
                copy.write_row(
                    (
                        f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}",
                        t,
                        t + timedelta(seconds=3),
                        t,
                        f"site-{i % 5}",
                        camera,
                        f"run-{i}",
                        plate,
                        plate,
                        "GB",
                        0.5 + rng.random() / 2,
                        3,
                        False,
                    )
                )
        conn.commit()
        conn.execute("ANALYZE plate_events")
        conn.commit()
    plates[:] = sorted(used)  # search only plates that have reads
    return time.perf_counter() - started


def run_level(
    call: Callable[[Any, str], None],
    make_client: Callable[[], Any],
    plates: list[str],
    level: int,
    seconds: float,
) -> dict[str, float]:
    """``level`` closed-loop clients for ``seconds``: requests/s and latency percentiles."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        client = make_client()
        mine: list[float] = []
        try:
            while time.perf_counter() < deadline:
                plate = plates[rng.randrange(len(plates))]
                t0 = time.perf_counter()
                try:
                    call(client, plate)
                except Exception:  # noqa: BLE001 - counted, the run goes on
                    with lock:
                        errors[0] += 1
                    continue
                mine.append(time.perf_counter() - t0)
        finally:
            close = getattr(client, "close", None)
            if close:
                close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(level)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "concurrency": level,
        "requests": len(latencies),
        "errors": errors[0],
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
    }


def ladder(
    call: Callable[[Any, str], None],
    make_client: Callable[[], Any],
    plates: list[str],
    levels: list[int],
    seconds: float,
) -> list[dict[str, float]]:
    """:func:`run_level` at each concurrency level."""
    return [run_level(call, make_client, plates, level, seconds) for level in levels]


def best_rps(levels: list[dict[str, float]]) -> float:
    """Highest requests/s of a level whose p99 is under the budget (0 if none)."""
    ok = [lv["rps"] for lv in levels if lv["p99_ms"] < P99_BUDGET_S * 1000 and lv["errors"] == 0]
    return max(ok, default=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 000 rows, shorter levels.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--rows", type=int, default=None, help="Reads to load (default 1 000 000).")
    parser.add_argument("--seconds", type=float, default=None, help="Seconds per concurrency level.")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    levels = [1, 4, 8] if args.quick else [1, 2, 4, 8, 16]
    rng = random.Random(20261127)
    plates = make_plates(max(rows // 5, 10), rng)

    server = server_url()
    name = f"alpr_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    proc = None
    try:
        migrate(url)
        load_s = load(url, rows, plates, rng, datetime.now(UTC))
        with psycopg.connect(url, autocommit=True) as conn:
            _, token = create_key(conn, "bench", "read")
        port = free_port()
        env = {
            **os.environ,
            "ALPR_DATABASE__URL": url,
            "ALPR_API__PORT": str(port),
            "ALPR_API__RATE_LIMIT_PER_S": "0",
            "ALPR_API__POOL_SIZE": "16",
            "ALPR_METRICS__ENABLED": "false",
            "ALPR_API__RETENTION__INTERVAL_S": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "alpr.cli", "api", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(
                    "`alpr api serve` did not start: "
                    + (proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "timeout")
                )
            time.sleep(0.2)

        def api_call(client: httpx.Client, plate: str) -> None:
            response = client.get("/events", params={"plate": plate, "limit": 50})
            if response.status_code != 200 or not response.json()["items"]:
                raise RuntimeError(f"HTTP {response.status_code}")

        query_sql = search_sql(EventQuery(plate="AA00AAA", limit=50))[0]

        def sql_call(conn: psycopg.Connection[Any], plate: str) -> None:
            _, params = search_sql(EventQuery(plate=plate, limit=50))
            if not conn.execute(query_sql, params).fetchall():
                raise RuntimeError("no rows")

        api_levels = ladder(
            api_call,
            lambda: httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=10),
            plates,
            levels,
            seconds,
        )
        sql_levels = ladder(sql_call, lambda: psycopg.connect(url, autocommit=True), plates, levels, seconds)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            with connect(with_database(server, "postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    api_rps, sql_rps = best_rps(api_levels), best_rps(sql_levels)
    report = {
        "benchmark": "api.plate_search",
        "rows": rows,
        "distinct_plates": len(plates),
        "load_seconds": round(load_s, 1),
        "seconds_per_level": seconds,
        "cpus": os.cpu_count(),
        "api": api_levels,
        "raw_sql": sql_levels,
        "rps_at_p99_100ms": api_rps,
        "raw_sql_rps_at_p99_100ms": sql_rps,
        "ratio_vs_raw_sql": round(api_rps / sql_rps, 3) if sql_rps else None,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{rows} reads ({len(plates)} plates) loaded in {load_s:.1f}s; exact plate search, limit 50")
        for label, lv in (("REST API", api_levels), ("raw SQL", sql_levels)):
            for r in lv:
                print(
                    f"  {label:8}  c={r['concurrency']:<3} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms"
                    f"  p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}"
                )
        print(
            f"requests/s at p99 < 100 ms: API {api_rps}, raw SQL {sql_rps},"
            f" ratio {report['ratio_vs_raw_sql']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
