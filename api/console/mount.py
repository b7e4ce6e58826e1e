"""Put the console into the API's FastAPI app: its pages, static files, the live feed, ``/``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from api.console.feed import LiveFeed
from api.console.pages import admin, alerts, cameras, crops, events, live, plates, search, signin, watchlists
from api.console.render import SECURITY_HEADERS, STATIC
from config.settings import Settings

PAGES = (signin, live, search, plates, events, watchlists, alerts, cameras, admin, crops)


class _Static(StaticFiles):
    """The console's own files (CSS, scripts, icon) with the security headers, cached for an hour."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"public, max-age=3600"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def install(app: FastAPI, settings: Settings) -> LiveFeed:
    """Add the console to ``app``; returns its live feed (close it at shutdown)."""
    feed = LiveFeed(settings.database.url.get_secret_value(), settings.api.console.live_poll_s)
    app.state.console_feed = feed
    for page in PAGES:
        app.include_router(page.router)
    app.mount("/console/static", _Static(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/live", status_code=303)

    return feed
