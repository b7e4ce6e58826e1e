"""Benchmark of plate search: the REST API vs the same search's SQL behind a minimal HTTP server, in one run.

Loads ``--rows`` plate reads (1 million by default; ``--quick``: 100 000) with COPY into a fresh
database, starts `alpr api serve` as production runs it (metrics, access log, auth, audit on; the
bench key's rate limit raised so that it does not cap the run; docs/deploy.md, "Serving the API")
and ``bench/raw_sql_server.py`` (the search's SQL: ``api.search.run_search``, the statements the
API's route runs, on the same pool and driver, under the same uvicorn settings, no
key/audit/metrics). Both must answer the same events for a few plates. Then wrk (a compiled load
generator; ``apt-get install wrk``) sends exact plate searches (``GET /events?plate=...&limit=50``,
random plates that exist, the key header) with N open connections for ``--seconds`` per level,
alternating API and raw SQL at each level so that both see the same machine, ``--rounds`` times (the
median round is kept). Reports per level requests/s and latency percentiles (wrk's), the best
requests/s whose p99 stays under 100 ms for each, and their ratio. After the API's clean shutdown
its audit rows are counted: at least one per search answered, or the run fails. Then the search
latencies at scale: bench/search.py (exact, prefix, fuzzy, camera + day ... one search at a time,
p50/p99) on a database of ``--search-rows`` reads (10 million over 90 days, 200 cameras), kept
under the name ``alpr_bench_search_ROWS`` and reused by later runs; ``--search-url`` puts it on
another server (one preloading TimescaleDB gets the TimescaleDB path).

    python bench/api.py [--quick] [--json] [--rows N] [--seconds S] [--levels 1,4,16] [--rounds R] [--storage native]
                        [--search-rows N] [--search-url URL] [--search-database NAME]

The database server is $ALPR_TEST_DATABASE_URL / $DATABASE_URL / postgresql://postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from api.keys import create_key  # noqa: E402
from config.load import load_settings  # noqa: E402
from db.connect import connect, with_database  # noqa: E402
from db.migrate import STORAGE_PREFERENCES, migrate  # noqa: E402

P99_BUDGET_S = 0.100
# The one bench key's rate (the default 50/s per key would cap the measurement, not the server).
BENCH_RATE_LIMIT_PER_S = 100_000.0
SAMPLE_PLATES = 5  # searched on both servers before the load, their answers compared


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


WRK_SCRIPT = """
local plates = {%s}
local headers = {["X-API-Key"] = "%s"}
math.randomseed(%d)
request = function()
  local plate = plates[math.random(#plates)]
  return wrk.format("GET", "/events?plate=" .. plate .. "&limit=50", headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"errors\\": %%d, \\"non_2xx\\": %%d,"
    .. " \\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def write_wrk_script(path: Path, plates: list[str], token: str, seed: int) -> None:
    """The Lua script of wrk: a random existing plate per request, the key header, a JSON summary."""
    listed = ",".join(f'"{p}"' for p in plates)
    path.write_text(WRK_SCRIPT % (listed, token, seed))


def run_level(base: str, script: Path, level: int, seconds: float) -> dict[str, float]:
    """wrk with ``level`` open connections (closed loop) for ``seconds``: requests/s and latency percentiles."""
    proc = subprocess.run(
        ["wrk", "-t1", f"-c{level}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")
    out = json.loads(line.removeprefix("WRK_JSON "))
    return {
        "concurrency": level,
        "requests": out["requests"],
        "errors": out["errors"] + out["non_2xx"],
        "rps": round(out["requests"] / (out["duration_us"] / 1e6), 1),
        "p50_ms": round(out["p50_us"] / 1000, 2),
        "p95_ms": round(out["p95_us"] / 1000, 2),
        "p99_ms": round(out["p99_us"] / 1000, 2),
    }


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round of median requests/s (the lower middle one of an even count), with the count of rounds."""
    ranked = sorted(rounds, key=lambda lv: lv["rps"])
    return {**ranked[(len(ranked) - 1) // 2], "rounds": len(rounds)}


def best_rps(levels: list[dict[str, float]]) -> float:
    """Highest requests/s of a level whose p99 is under the budget (0 if none)."""
    ok = [lv["rps"] for lv in levels if lv["p99_ms"] < P99_BUDGET_S * 1000 and lv["errors"] == 0]
    return max(ok, default=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(argv: list[str], env: dict[str, str], base: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` (output to ``log``: a pipe nobody reads would stall it) and wait for ``base``/health."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"{' '.join(argv[1:])} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown: the API flushes its audit rows), then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def same_answers(api: str, raw: str, token: str, plates: list[str]) -> int:
    """Both servers return the same events for a few plates; the number of events compared."""
    compared = 0
    with httpx.Client(headers={"X-API-Key": token}, timeout=10) as client:
        for plate in plates[:SAMPLE_PLATES]:
            params = {"plate": plate, "limit": 50}
            got = [client.get(base + "/events", params=params) for base in (api, raw)]
            if any(r.status_code != 200 for r in got):
                raise RuntimeError(f"search of {plate}: HTTP {[r.status_code for r in got]}")
            ids = [[e["event_id"] for e in r.json()["items"]] for r in got]
            if not ids[0] or ids[0] != ids[1]:
                raise RuntimeError(f"search of {plate}: API and raw SQL differ: {ids}")
            compared += len(ids[0])
    return compared


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 000 rows, shorter levels.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--rows", type=int, default=None, help="Reads to load (default 1 000 000).")
    parser.add_argument("--seconds", type=float, default=None, help="Seconds per concurrency level.")
    parser.add_argument(
        "--levels", default=None, help="Comma-separated concurrency levels (default 1,2,4,8,16,32,64; quick 1,4,16,32)."
    )
    parser.add_argument(
        "--storage",
        choices=STORAGE_PREFERENCES,
        default="auto",
        help="Storage path of plate_events (db.migrate; auto = the best the server offers).",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="Runs of each level per server, median kept (default 3; quick 1)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument(
        "--search-rows",
        type=int,
        default=None,
        help="Reads of the search-latency database (bench/search.py; default 10 000 000 over 90 days,"
        " quick 200 000 over 14; 0 skips it).",
    )
    parser.add_argument(
        "--search-url",
        default=None,
        help="Server of the search-latency database (default: this bench's; one that preloads TimescaleDB"
        " gets that path).",
    )
    parser.add_argument(
        "--search-database",
        default=None,
        help="Its name (default alpr_bench_search_ROWS): kept, and reused by later runs (built once: about"
        " 12 minutes for 10 million reads on 2 cores).",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/api.py needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    default_levels = "1,4,8,16,32" if args.quick else "1,2,4,8,16,32,64"
    rounds = args.rounds or (1 if args.quick else 3)
    levels = [int(x) for x in (args.levels or default_levels).split(",")]
    rng = random.Random(20261127)
    plates = make_plates(max(rows // 5, 10), rng)

    server = server_url()
    name = f"alpr_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    procs: list[subprocess.Popen[bytes]] = []
    api_levels: list[dict[str, float]] = []
    sql_levels: list[dict[str, float]] = []
    tmp = Path(tempfile.mkdtemp(prefix="alpr-bench-api-"))
    try:
        migrate(url, storage=args.storage)
        load_s = load(url, rows, plates, rng, datetime.now(UTC))
        with psycopg.connect(url, autocommit=True) as conn:
            _, token = create_key(conn, "bench", "read")
        api_port, raw_port = free_port(), free_port()
        # The production configuration (metrics, access log, auth, audit, rate limiter on), with
        # the rate raised so that the one bench key is not capped at the per-key default.
        env = {
            **os.environ,
            "ALPR_DATABASE__URL": url,
            "ALPR_API__RATE_LIMIT_PER_S": str(BENCH_RATE_LIMIT_PER_S),
            "ALPR_API__RATE_LIMIT_BURST": str(int(BENCH_RATE_LIMIT_PER_S)),
            "ALPR_METRICS__API_PORT": str(free_port()),
            "ALPR_API__RETENTION__INTERVAL_S": "0",
        }
        api_base, raw_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{raw_port}"
        api_argv = [sys.executable, "-m", "alpr.cli", "api", "serve", "--port", str(api_port)]
        procs.append(start_server(api_argv, env, api_base, tmp / "api.log"))
        raw_argv = [sys.executable, str(ROOT / "bench" / "raw_sql_server.py"), str(raw_port)]
        procs.append(start_server(raw_argv, env, raw_base, tmp / "raw.log"))
        compared = same_answers(api_base, raw_base, token, plates)
        script = tmp / "search.lua"
        write_wrk_script(script, plates, token, 20261127)
        warm = [run_level(base, script, 4, 1.0) for base in (api_base, raw_base)]  # connections, caches, plans
        # Interleaved, alternating which goes first, so that both see the same machine; each level
        # ``rounds`` times per server, the median round kept (a busy shared machine has spikes).
        answered = 0
        for level in levels:
            runs: dict[str, list[dict[str, float]]] = {api_base: [], raw_base: []}
            for r in range(rounds):
                for base in (api_base, raw_base) if r % 2 == 0 else (raw_base, api_base):
                    runs[base].append(run_level(base, script, level, seconds))
            answered += sum(lv["requests"] for lv in runs[api_base])
            api_levels.append(median_round(runs[api_base]))
            sql_levels.append(median_round(runs[raw_base]))
        stop_server(procs.pop(0))  # a clean shutdown: every queued audit row is written
        with psycopg.connect(url, autocommit=True) as conn:
            audit_rows = conn.execute(
                "SELECT count(*) FROM audit_log WHERE actor = 'bench' AND action = 'events.search'"
            ).fetchone()[0]
        # wrk counts answers it read; a request cut at the end of a level is audited but not counted.
        api_answered = SAMPLE_PLATES + warm[0]["requests"] + answered
        if audit_rows < api_answered:
            raise RuntimeError(f"{api_answered} searches answered but only {audit_rows} audit rows written")
    finally:
        for proc in procs:
            stop_server(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep:
            with connect(with_database(server, "postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    search_rows = args.search_rows if args.search_rows is not None else (200_000 if args.quick else 10_000_000)
    at_scale = search_latencies(args.search_url or server, search_rows, args.search_database, quick=args.quick)
    settings = load_settings()
    api_rps, sql_rps = best_rps(api_levels), best_rps(sql_levels)
    report = {
        "benchmark": "api.plate_search",
        "load_generator": wrk_version(),
        "rows": rows,
        "storage": args.storage,
        "distinct_plates": len(plates),
        "load_seconds": round(load_s, 1),
        "seconds_per_level": seconds,
        "rounds_per_level": rounds,
        "cpus": os.cpu_count(),
        "events_compared": compared,
        "api_searches_answered": api_answered,
        "audit_rows_written": audit_rows,
        "server": {
            "processes": 1,
            "loop": uvicorn_loop(),
            "pool_size": settings.api.pool_size,
            "metrics": True,
            "access_log": settings.api.access_log,
            "audit": f"every search, written in batches every {settings.api.audit_flush_s:g} s",
            "audit_flush_s": settings.api.audit_flush_s,
            "rate_limit_per_s": BENCH_RATE_LIMIT_PER_S,
            "rate_limit_note": "per-key limit raised from the default "
            f"{settings.api.rate_limit_per_s:g}/s so that the bench's one key is not capped",
        },
        "api": api_levels,
        "raw_sql": sql_levels,
        "rps_at_p99_100ms": api_rps,
        "raw_sql_rps_at_p99_100ms": sql_rps,
        "ratio_vs_raw_sql": round(api_rps / sql_rps, 3) if sql_rps else None,
        # The API's search SQL on a large database, one search at a time (bench/search.py).
        "search_rows": at_scale["rows"] if at_scale else 0,
        "search_storage": at_scale["storage"] if at_scale else None,
        "search_p99_ms": {k: v["p99_ms"] for k, v in at_scale["searches"].items()} if at_scale else {},
        "search_p50_ms": {k: v["p50_ms"] for k, v in at_scale["searches"].items()} if at_scale else {},
        "search_at_scale": at_scale,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{rows} reads ({len(plates)} plates) loaded in {load_s:.1f}s; exact plate search, limit 50;"
            f" {report['load_generator']}"
        )
        for label, lv in (("REST API", api_levels), ("raw SQL", sql_levels)):
            for r in lv:
                print(
                    f"  {label:8}  c={r['concurrency']:<3} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms"
                    f"  p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}"
                )
        print(f"requests/s at p99 < 100 ms: API {api_rps}, raw SQL {sql_rps}, ratio {report['ratio_vs_raw_sql']}")
        if at_scale:
            print(f"searches over {at_scale['rows']} reads ({at_scale['storage']}), one at a time:")
            for kind, r in at_scale["searches"].items():
                print(f"  {kind:11} p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms")
    return 0


def search_latencies(server: str, rows: int, database: str | None, *, quick: bool) -> dict[str, Any] | None:
    """bench/search.py's report on a kept database of ``rows`` reads (built on first use, its
    progress on stderr), or None for ``rows`` 0."""
    if rows <= 0:
        return None
    name = database or f"alpr_bench_search_{rows}"
    argv = [sys.executable, str(ROOT / "bench" / "search.py"), "--json", "--rows", str(rows)]
    argv += ["--url", server, "--database", name, "--skip-retention", "--budget-s", "40"]
    if quick:
        argv.append("--quick")
    print(f"search latencies: {rows} reads in database {name} (built once, then reused)", file=sys.stderr)
    done = subprocess.run(argv, stdout=subprocess.PIPE, check=True)
    report: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return report


def wrk_version() -> str:
    """``wrk 4.1.0`` (as wrk -v prints it)."""
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).split(" [", 1)[0].strip()
    return first or "wrk"


def uvicorn_loop() -> str:
    """The event loop and HTTP parser uvicorn's ``auto`` picks here (uvloop/httptools when installed)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop}+{http}"


if __name__ == "__main__":
    sys.exit(main())
