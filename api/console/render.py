"""Pages from Jinja2 templates (autoescaped), with the console's security headers on every answer.

The Content-Security-Policy allows scripts, styles, images and connections from the console's
own origin only: no inline script or style, no eval, no framing. Values from the database
(plates, camera names, notes) reach pages only through autoescaping or as text nodes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.console.sessions import Session

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def secure_headers(response: Response, *, cache: bool = False) -> Response:
    """``response`` with :data:`SECURITY_HEADERS` (and ``no-store`` unless ``cache``)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime(fmt) + " UTC"


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else ""


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in merged.items() if v not in (None, "", False)], doseq=True)


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(when=_when, iso=_iso, ago=_ago, path=lambda v: quote(str(v), safe=""))
_env.globals.update(query=_query)


def html(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` (a page, or a fragment for htmx) with the session and ``context``."""
    defaults: dict[str, Any] = {"flash": None, "flash_kind": "ok"}
    text = _env.get_template(template).render(
        request=request, session=session, path=request.url.path, **{**defaults, **context}
    )
    return secure_headers(HTMLResponse(text, status_code=status_code))  # type: ignore[return-value]


def fragment(template: str, **context: Any) -> str:
    """Render a template to text (rows pushed over the live stream)."""
    return _env.get_template(template).render(**context)
