"""Sign in with an API key, sign out.

The sign-in form is protected against login CSRF by a double-submit token: a random value in a
short-lived HttpOnly cookie that the form must repeat.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api import audit
from api.console import sessions
from api.console.auth import checked, cookie_name, current, secure_cookie, session_token
from api.console.pages.common import Conn, router, safe_next
from api.console.render import html
from api.console.sessions import Session
from api.deps import services

log = logging.getLogger(__name__)
router = router()
LOGIN_COOKIE = "alpr_login"


def _login_page(request: Request, *, next_path: str, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = html(request, "login.html", None, status_code=status, login_csrf=token, next=next_path, error=error)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
        path="/console/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in page (or straight on, when already signed in)."""
    if await current(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    conn: Conn,
    api_key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key; on success set the session cookie and go on to ``next``."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _login_page(request, next_path=safe_next(next), error="The form expired; try again.", status=403)
    ttl = services(request).settings.api.console.session_ttl_s
    with conn.transaction():
        made = sessions.sign_in(conn, api_key.strip(), ttl)
        if made is not None:
            audit.record(conn, made[1].name, "console.sign_in", {"role": made[1].role})
    if made is None:
        client = request.client.host if request.client else "?"
        log.warning("console: failed sign-in from %s", client)
        return _login_page(request, next_path=safe_next(next), error="That key is unknown or revoked.", status=401)
    token, session = made
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        cookie_name(request),
        token,
        max_age=int(ttl),
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/logout")
def logout(request: Request, conn: Conn, session: Annotated[Session, Depends(checked)]) -> Response:
    """End the session and forget the cookie."""
    token = session_token(request)
    if token:
        sessions.sign_out(conn, token)
    audit.record(conn, session.name, "console.sign_out", {})
    response = RedirectResponse("/console/login", status_code=303)
    for name in (sessions.COOKIE, sessions.SECURE_COOKIE):
        response.delete_cookie(name, path="/", secure=name == sessions.SECURE_COOKIE, httponly=True, samesite="strict")
    return response
