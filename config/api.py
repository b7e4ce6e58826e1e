"""Settings of the query API (`alpr api`). Owned by the API; every model forbids unknown keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionSettings(_Strict):
    """How long each class of personal data is kept; applied by `alpr api retention` and `alpr api serve`."""

    reads_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Plate reads (plate_events, rejected_reads); null = database.reads_retention_days.",
    )
    images_days: int = Field(30, ge=1, le=3650, description="Crop images in object storage.")
    watchlist_hits_days: int = Field(365, ge=1, le=3650, description="Alerts and their delivery rows.")
    audit_days: int = Field(365, ge=1, le=3650, description="audit_log rows (erasure records are kept).")
    interval_s: float = Field(
        3600.0,
        ge=0,
        le=7 * 24 * 3600,
        description="`alpr api serve` applies retention this often; 0 = never.",
    )


class PrivacySettings(_Strict):
    """Keyed hashes of plates: in erasure records, and (optionally) instead of plates of no interest."""

    secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of plate digests; null = plain SHA-256 in erasure records."
    )
    hash_plates: bool = Field(
        False,
        description="Each retention run replaces the plate of events older than hash_after_s that hit no "
        "watchlist (and of rejected reads) by '#' + HMAC(secret, plate); exact search still finds them.",
    )
    hash_after_s: float = Field(
        3600.0,
        ge=0,
        le=365 * 86400,
        description="Plates stay readable this long (open tracks, dedup and review window).",
    )

    @model_validator(mode="after")
    def _hash_needs_secret(self) -> PrivacySettings:
        if self.hash_plates and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError("privacy.hash_plates needs privacy.secret")
        return self


class ConsoleSettings(_Strict):
    """The operator console served at / by `alpr api serve` (sign in with an API key)."""

    enabled: bool = Field(True, description="Serve the console at / (the REST API is served either way).")
    session_ttl_s: float = Field(
        12 * 3600.0, ge=60, le=30 * 86400, description="A sign-in lasts this long (then sign in again)."
    )
    secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the session cookie Secure: auto = when the request came over https "
        "(behind a TLS proxy that sends X-Forwarded-Proto from a trusted address).",
    )
    live_poll_s: float = Field(
        1.0, gt=0, le=60, description="The live page checks for new events this often without a notification."
    )
    prometheus_url: str | None = Field(
        None,
        description="Prometheus that scrapes the edge nodes (e.g. http://127.0.0.1:19090); the cameras page "
        "reads alpr_edge_camera_up from it. null = camera up/down unknown (last event still shown).",
    )
    camera_stale_s: float = Field(
        120.0, ge=1, le=86400, description="A camera whose edge reported nothing for this long shows as down."
    )


class ApiSettings(_Strict):
    """HTTP query API."""

    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(18000, ge=1, le=65535, description="Listen port.")
    access_log: bool = Field(
        True, description="Log each request (logger api.access: method, path without query, status, ms, key)."
    )
    cors_origins: tuple[str, ...] = Field(
        (), description="Origins allowed by CORS; empty = CORS closed (no CORS headers sent)."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=100 * 1_048_576, description="Larger request bodies are refused (413)."
    )
    default_page_size: int = Field(50, ge=1, le=1000, description="Rows per page when `limit` is not given.")
    max_page_size: int = Field(500, ge=1, le=1000, description="Largest `limit` a client may ask for.")
    rate_limit_per_s: float = Field(50.0, ge=0, description="Sustained requests per second per API key; 0 = unlimited.")
    rate_limit_burst: int = Field(100, ge=1, description="Requests a key may send at once above the rate.")
    key_cache_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="API keys are re-read from the database after this long (revocation delay).",
    )
    pool_size: int = Field(8, ge=1, le=100, description="Database connections of the API process.")
    pool_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Wait this long for a free database connection, then answer 503."
    )
    statement_timeout_ms: int = Field(
        5000, ge=100, le=600_000, description="Queries running longer are cancelled (the client gets 503)."
    )
    durable_audit: bool = Field(
        False,
        description="With audit_flush_s 0: wait for the WAL flush of each search's audit row; false saves an "
        "fsync per search, a database crash may then lose the last fraction of a second of audit rows.",
    )
    audit_flush_s: float = Field(
        0.1,
        ge=0,
        le=10,
        description="Searches' audit rows are queued and written in batches this often (a clean shutdown "
        "writes them all; a crash loses at most this long of them). 0 = each in its search's transaction.",
    )
    audit_queue_rows: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Audit rows that may wait for the database; beyond, searches answer 503 (never unaudited).",
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
