"""Console sessions: sign in with an API key, then a random session token in an HttpOnly cookie.

Only the token's SHA-256 is stored (``console_sessions``); a session acts with its key's name
and role, and ends at ``expires_at``, at sign-out, or when its key is revoked. Each session has
its own CSRF token, which every changing request must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from api.keys import ApiKey, Role, find_key

COOKIE = "alpr_session"
SECURE_COOKIE = "__Host-alpr_session"  # the __Host- prefix: Secure, Path=/, no Domain


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: who (the key's name), which role, its CSRF token and expiry."""

    key_id: int
    name: str
    role: Role
    csrf_token: str
    expires_at: datetime

    @property
    def admin(self) -> bool:
        """True when the session may change things."""
        return self.role == "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_in(conn: psycopg.Connection[Any], api_key: str, ttl_s: float) -> tuple[str, Session] | None:
    """A new session for a valid, unrevoked ``api_key`` (its cookie token and the session), else None."""
    key: ApiKey | None = find_key(conn, api_key)
    if key is None or not key.active:
        return None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO console_sessions (token_hash, key_id, csrf_token, expires_at)"
        " VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
        (_digest(token), key.id, csrf, ttl_s),
    ).fetchone()
    assert row is not None  # RETURNING yields the row
    # Housekeeping: expired sessions of anyone go with each sign-in.
    conn.execute("DELETE FROM console_sessions WHERE expires_at < now()")
    return token, Session(key.id, key.name, key.role, csrf, row[0])


def lookup(conn: psycopg.Connection[Any], token: str) -> Session | None:
    """The live session of a cookie token (unexpired, key not revoked), or None."""
    row = conn.execute(
        "SELECT k.id, k.name, k.role, s.csrf_token, s.expires_at FROM console_sessions s"
        " JOIN api_keys k ON k.id = s.key_id"
        " WHERE s.token_hash = %s AND s.expires_at > now() AND k.revoked_at IS NULL",
        (_digest(token),),
    ).fetchone()
    return Session(*row) if row else None


def sign_out(conn: psycopg.Connection[Any], token: str) -> None:
    """End the session of ``token`` (nothing happens when there is none)."""
    conn.execute("DELETE FROM console_sessions WHERE token_hash = %s", (_digest(token),))


def csrf_ok(session: Session, sent: str | None) -> bool:
    """True when ``sent`` is the session's CSRF token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(session.csrf_token.encode(), str(sent).encode())
