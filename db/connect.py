"""Database URLs and connections: the only place that knows libpq URL syntax."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo

CONNECT_TIMEOUT_S = 10


class DatabaseUnavailableError(RuntimeError):
    """The PostgreSQL server named by a URL cannot be reached or refused the login."""


def database_name(url: str) -> str:
    """The database a libpq URL or key=value conninfo names (libpq's default: the user name)."""
    params = conninfo.conninfo_to_dict(url)
    name = params.get("dbname") or params.get("user")
    if not name:
        raise ValueError(f"database URL names no database: {redact(url)}")
    return str(name)


def with_database(url: str, name: str) -> str:
    """The same server and credentials as ``url``, database ``name`` (keeps URL form when given one)."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    return conninfo.make_conninfo(url, dbname=name)


def redact(url: str) -> str:
    """``url`` without its password, for logs and error messages."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    params.pop("password", None)
    return conninfo.make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, raising :class:`DatabaseUnavailableError` naming the server on failure."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot connect to {redact(url)}: {exc}".strip()) from exc
