"""Console sign-in, sessions, CSRF, roles and security headers, over real HTTP against the real API."""

from __future__ import annotations

import re

import httpx
import pytest

from api.console.render import CSP
from tests.api.console.conftest import sign_in

pytestmark = pytest.mark.integration

PAGES = ["/console/live", "/console/search", "/console/watchlists", "/console/alerts", "/console/cameras"]


def test_root_leads_to_the_console_and_pages_need_a_session(api_url):
    with httpx.Client(base_url=api_url) as anon:
        assert anon.get("/").headers["location"] == "/console/live"
        for path in PAGES + ["/console/admin"]:
            answer = anon.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
        assert anon.get("/console/live/stream", headers={"Accept": "text/event-stream"}).status_code == 401
        assert anon.post("/console/watchlists", data={"name": "x"}).status_code == 401


def test_sign_in_sets_an_httponly_strict_cookie_and_wrong_keys_fail(api_url, keys):
    def token_of(page: httpx.Response) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    with httpx.Client(base_url=api_url) as client:
        bad = client.post(
            "/console/login", data={"api_key": "alpr_nope", "csrf": token_of(client.get("/console/login"))}
        )
        assert bad.status_code == 401 and "unknown or revoked" in bad.text
        revoked = client.post("/console/login", data={"api_key": keys.revoked, "csrf": token_of(bad)})
        assert revoked.status_code == 401
        forged = client.post("/console/login", data={"api_key": keys.read, "csrf": "forged"})
        assert forged.status_code == 403
        ok = client.post(
            "/console/login", data={"api_key": keys.read, "csrf": token_of(forged), "next": "//evil.example/x"}
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/console/live"  # no open redirect
        cookie = ok.headers["set-cookie"]
        assert "alpr_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert keys.read not in cookie
        page = client.get("/console/live")
        assert page.status_code == 200 and keys.read not in page.text  # no secret in a page


@pytest.mark.parametrize("path", PAGES + ["/console/login"])
def test_every_page_has_the_security_headers(console_reader, api_url, path):
    answer = httpx.get(api_url + path) if path == "/console/login" else console_reader.get(path)
    assert answer.status_code == 200, answer.text
    h = answer.headers
    assert h["content-security-policy"] == CSP and "script-src 'self'" in CSP and "unsafe" not in CSP
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin" and h["cache-control"] == "no-store"
    assert "<script>" not in answer.text and " on" + "click=" not in answer.text  # no inline script


def test_static_files_are_shipped_and_pinned(console_reader):
    import hashlib
    from pathlib import Path

    js = console_reader.get("/console/static/htmx.min.js")
    assert js.status_code == 200 and js.headers["x-content-type-options"] == "nosniff"
    vendor = (Path(__file__).parents[3] / "api" / "console" / "static" / "VENDOR.md").read_text()
    assert hashlib.sha256(js.content).hexdigest() in vendor and "2.0.11" in vendor
    assert console_reader.get("/console/static/console.css").status_code == 200


def test_read_role_sees_but_cannot_change(console_reader):
    assert console_reader.get("/console/admin").status_code == 403
    answer = console_reader.post("/console/watchlists", data={"name": "by-reader", "csrf": console_reader.csrf})
    assert answer.status_code == 403 and "admin" in answer.text
    assert 'action="/console/watchlists"' not in console_reader.get("/console/watchlists").text


def test_changes_need_the_sessions_csrf_token_and_same_origin(console_admin):
    missing = console_admin.post("/console/watchlists", data={"name": "no-token"})
    forged = console_admin.post("/console/watchlists", data={"name": "forged", "csrf": "x" * 43})
    cross = console_admin.post(
        "/console/watchlists",
        data={"name": "cross", "csrf": console_admin.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert missing.status_code == forged.status_code == cross.status_code == 403
    ok = console_admin.post("/console/watchlists", data={"name": "csrf-ok", "csrf": console_admin.csrf})
    assert ok.status_code == 303
    header = console_admin.post(
        "/console/watchlists", data={"name": "csrf-header"}, headers={"X-CSRF-Token": console_admin.csrf}
    )
    assert header.status_code == 303


def test_sign_out_and_revocation_end_the_session(api_url, db):
    from api.keys import create_key, revoke_key

    _, token = create_key(db, "console-revoke-me", "read")
    client = sign_in(api_url, token)
    assert client.get("/console/live").status_code == 200
    revoke_key(db, "console-revoke-me")
    assert client.get("/console/live").status_code == 303  # back to sign-in
    _, token2 = create_key(db, "console-sign-out", "read")
    client2 = sign_in(api_url, token2)
    assert client2.post("/console/logout", data={"csrf": client2.csrf}).status_code == 303
    assert client2.get("/console/live").status_code == 303
    actions = {r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor = 'console-sign-out'")}
    assert {"console.sign_in", "console.sign_out"} <= actions
