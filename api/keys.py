"""API keys: random tokens shown once, stored only as a SHA-256 hash, each with a role.

A token is ``alpr_`` + 32 random bytes (base64url), so a hash of it cannot be brute-forced
and a plain (unsalted) SHA-256 is enough; it also makes the lookup one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

Role = Literal["read", "admin"]
ROLES: tuple[Role, ...] = ("read", "admin")
TOKEN_PREFIX = "alpr_"


class ApiKeyError(ValueError):
    """A key cannot be created or revoked (duplicate name, unknown key, bad role)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored (never the token itself)."""

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token, as stored in ``api_keys.key_hash``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_key(conn: psycopg.Connection[Any], name: str, role: Role = "read") -> tuple[ApiKey, str]:
    """Store a new key named ``name``; returns it and its token (the only time the token exists)."""
    if role not in ROLES:
        raise ApiKeyError(f"role must be one of {ROLES}, got {role!r}")
    if not name.strip():
        raise ApiKeyError("key name must not be empty")
    token = new_token()
    try:
        row = conn.execute(
            "INSERT INTO api_keys (name, key_hash, role) VALUES (%s, %s, %s)"
            " RETURNING id, name, role, created_at, revoked_at",
            (name, hash_token(token), role),
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise ApiKeyError(f"an API key named {name!r} exists already") from exc
    assert row is not None  # RETURNING yields the row
    return ApiKey(*row), token


def revoke_key(conn: psycopg.Connection[Any], name: str) -> ApiKey:
    """Revoke the key ``name`` (idempotent: a revoked key keeps its first revocation time)."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE name = %s"
        " RETURNING id, name, role, created_at, revoked_at",
        (name,),
    ).fetchone()
    if row is None:
        raise ApiKeyError(f"no API key named {name!r}")
    return ApiKey(*row)


def list_keys(conn: psycopg.Connection[Any]) -> list[ApiKey]:
    """Every key, oldest first."""
    rows = conn.execute("SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY id").fetchall()
    return [ApiKey(*r) for r in rows]


def find_key(conn: psycopg.Connection[Any], token: str) -> ApiKey | None:
    """The key whose token is ``token`` (revoked or not), or None."""
    row = conn.execute(
        "SELECT id, name, role, created_at, revoked_at FROM api_keys WHERE key_hash = %s",
        (hash_token(token),),
    ).fetchone()
    return ApiKey(*row) if row else None


class KeyCache:
    """Looks keys up by token, remembering each answer for ``ttl_s`` seconds (0 = always ask)."""

    def __init__(
        self,
        lookup: Callable[[str], ApiKey | None],
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> tuple[bool, ApiKey | None]:
        """``(True, key)`` when a fresh answer for ``token`` is cached (no I/O), else ``(False, None)``."""
        if self._ttl_s <= 0:
            return False, None
        with self._lock:
            hit = self._entries.get(hash_token(token))
        if hit is not None and self._clock() - hit[0] < self._ttl_s:
            return True, hit[1]
        return False, None

    def get(self, token: str) -> ApiKey | None:
        """The key of ``token`` (None when unknown)."""
        found, key = self.cached(token)
        if found:
            return key
        digest = hash_token(token)
        now = self._clock()
        key = self._lookup(token)
        if self._ttl_s > 0:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()  # bounded: unknown tokens must not grow it forever
                self._entries[digest] = (now, key)
        return key
