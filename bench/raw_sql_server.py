"""The raw-SQL baseline of bench/api.py: the plate search's SQL behind the thinnest HTTP server.

``GET /events?plate=P&limit=N`` runs an exact search with :func:`api.search.run_search`, the
function the API's route calls (the same statements: the corrections probe, then on plain
partitions the prepared direct statement, on TimescaleDB the plate-dictionary lookup and the
reads of the plate's days; the API writes its audit rows in batches outside it), on a
pooled connection made by :func:`api.app.make_pool` (same driver, pool and connection options
as the API), in the same thread pool hop the API uses, and answers the rows as JSON. No key,
no audit row, no metrics, no response model: what is left is uvicorn + the SQL.
It runs under the same uvicorn settings as `alpr api serve` (:func:`api.cli.uvicorn_options`), with
the startup heap frozen as there (:func:`api.cli.freeze_heap`).

    python bench/raw_sql_server.py PORT        (database: $ALPR_DATABASE__URL)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic_core import to_json  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.types import Receive, Scope, Send  # noqa: E402

from api.app import make_pool  # noqa: E402
from api.search import EventQuery, dictionary_for_exact, run_search  # noqa: E402
from config.load import load_settings  # noqa: E402


def make_app(settings: Any) -> Any:
    """A bare ASGI app over a pool like the API's."""
    pool = make_pool(settings)
    how: list[bool | None] = [None]  # the storage path's way for exact plates, read once (as the API)

    def query(plate: str, limit: int) -> bytes:
        with pool.connection() as conn:
            if how[0] is None:
                how[0] = dictionary_for_exact(conn)
            page = run_search(conn, EventQuery(plate=plate, limit=limit), exact_via_dictionary=how[0])
        return to_json({"items": page.rows, "next_cursor": page.next_cursor})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pool.open(wait=True)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        args = parse_qs(scope["query_string"].decode())
        status, body = 200, b""
        if scope["path"] == "/health":
            body = b'{"status":"ok"}'
        elif scope["path"] == "/events" and "plate" in args:
            body = await run_in_threadpool(query, args["plate"][0], int(args.get("limit", ["50"])[0]))
        else:
            status, body = 404, b'{"detail":"not found"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    import uvicorn

    from api.cli import freeze_heap, uvicorn_options

    settings = load_settings()
    app = make_app(settings)
    freeze_heap()  # as `alpr api serve`: the same process settings for both
    uvicorn.run(app, **uvicorn_options(settings, host="127.0.0.1", port=int(sys.argv[1])))


if __name__ == "__main__":
    main()
