"""Who is asking: the session behind the cookie, its role, and the CSRF check of changing requests.

- :func:`viewer`: any signed-in session (read or admin); none -> sign-in page.
- :func:`changer`: an admin session whose request carries the session's CSRF token (form field
  ``csrf`` or header ``X-CSRF-Token``) and, when the browser sends one, an ``Origin`` equal to
  the console's own; a read session gets 403.
- :class:`ConsoleRoute` renders refusals and errors as pages with the security headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.console import sessions
from api.console.render import html, secure_headers
from api.console.sessions import Session
from api.deps import services

log = logging.getLogger(__name__)
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


def cookie_name(request: Request) -> str:
    """The session cookie's name: ``__Host-`` prefixed when it is Secure."""
    return sessions.SECURE_COOKIE if secure_cookie(request) else sessions.COOKIE


def secure_cookie(request: Request) -> bool:
    """Whether the session cookie gets the Secure attribute (``api.console.secure_cookie``)."""
    mode = services(request).settings.api.console.secure_cookie
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def session_token(request: Request) -> str | None:
    """The session cookie of the request, under either name."""
    return request.cookies.get(sessions.SECURE_COOKIE) or request.cookies.get(sessions.COOKIE)


async def current(request: Request) -> Session | None:
    """The request's live session, or None."""
    token = session_token(request)
    if not token or len(token) > 100:
        return None
    svc = services(request)

    def look() -> Session | None:
        with svc.pool.connection() as conn:
            return sessions.lookup(conn, token)

    return await run_in_threadpool(look)


async def viewer(request: Request) -> Session:
    """Dependency: the signed-in session (read or admin)."""
    session = await current(request)
    if session is None:
        raise SignInRequired
    request.state.actor = session.name
    return session


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin (Origin header)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") == own


async def checked(request: Request) -> Session:
    """Dependency: a session (any role) whose changing request carries its CSRF token, same origin."""
    session = await viewer(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not same_origin(request) or not sessions.csrf_ok(session, sent):
        log.warning(
            "console: refused %s %s from %s (CSRF; origin %s)",
            request.method,
            request.url.path,
            session.name,
            request.headers.get("origin"),
        )
        raise HTTPException(403, "this form has expired or did not come from the console; reload the page")
    return session


async def changer(request: Request) -> Session:
    """Dependency: an admin session with the session's CSRF token and a same-origin request."""
    session = await checked(request)
    if not session.admin:
        raise HTTPException(403, f"key {session.name!r} has role 'read'; changes need an admin key")
    return session


async def administrator(request: Request) -> Session:
    """Dependency: an admin session (pages only admins may see)."""
    session = await viewer(request)
    if not session.admin:
        raise HTTPException(403, f"key {session.name!r} has role 'read'; this page needs an admin key")
    return session


class ConsoleRoute(APIRoute):
    """Route whose refusals become pages (or a redirect to sign in) and whose answers get security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET" or request.headers.get("accept") == "text/event-stream":
                    return secure_headers(Response("sign in first", status_code=401))
                response = RedirectResponse(f"/console/login?next={quote(target, safe='')}", status_code=303)
            except (HTTPException, RequestValidationError) as exc:
                if isinstance(exc, RequestValidationError):
                    status = 422
                    detail = "; ".join(
                        f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors()
                    )
                else:
                    status, detail = exc.status_code, str(exc.detail)
                session = await current(request)
                return html(request, "error.html", session, status_code=status, status=status, detail=detail)
            return secure_headers(response, cache=response.headers.get("cache-control") is not None)

        return route
