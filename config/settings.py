"""Typed, strict settings for every process of the platform.

One root model, :class:`Settings`, with one section per concern. Every model forbids
unknown keys, so a typo in a YAML file fails at start with the file, key and reason
(see :mod:`config.load`). Environment variables override the file: ``ALPR_`` plus the
key path joined by ``__``, e.g. ``ALPR_KAFKA__BOOTSTRAP_SERVERS=host:9092``.

Sections owned by one part of the product live in their own module (``config.edge``,
``config.flow``) and are imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.api import ApiSettings
from config.edge import EdgeSettings
from config.flow import FlowSettings
from config.kafka import KafkaSettings, TopicSettings  # noqa: F401 - re-exported: importers use config.settings
from config.limits import LimitSettings
from config.ocr import OcrSettings
from config.secret_files import SecretFilesSource, without_file_variables


class StrictModel(BaseModel):
    """Base for every settings section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Settings(StrictModel):
    """Object storage for plate crops (MinIO, AWS S3, SeaweedFS)."""

    endpoint: str = Field("127.0.0.1:18333", description="host:port of the S3 API, without scheme.")
    secure: bool = Field(False, description="Use https.")
    access_key: str = Field("alpr", description="Access key id.")
    secret_key: SecretStr = Field(SecretStr("alpr-secret-key"), description="Secret access key.")
    region: str = Field("us-east-1", description="Region name sent in signatures.")
    bucket: str = Field("alpr-crops", min_length=3, max_length=63, description="Bucket for crops.")
    presign_seconds: int = Field(900, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned crop URLs.")
    public_endpoint: str | None = Field(
        None,
        description="host:port (no scheme) where people and alert receivers reach S3 (published MinIO port, "
        "reverse proxy); every link given out is presigned for it. null = endpoint.",
    )
    public_secure: bool | None = Field(None, description="https for public links; null = secure.")

    @property
    def link_endpoint(self) -> str:
        """host:port that presigned links name."""
        return self.public_endpoint or self.endpoint

    @property
    def link_secure(self) -> bool:
        """Whether presigned links use https."""
        return self.secure if self.public_secure is None else self.public_secure


_DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/alpr"


def url_with_password(url: str, password: str) -> str:
    """``url`` (a libpq URL or ``key=value`` string) with its password set to ``password``."""
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        escaped = password.replace("\\", "\\\\").replace("'", "\\'")
        return f"{url} password='{escaped}'"
    host = parts.netloc.rpartition("@")[2]
    user = unquote(parts.username or "")
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class DatabaseSettings(StrictModel):
    """PostgreSQL (optionally with TimescaleDB)."""

    url: SecretStr = Field(
        SecretStr(_DEFAULT_DATABASE_URL),
        description="libpq URL of the database; created by `alpr db migrate` when missing.",
    )
    password: SecretStr | None = Field(
        None,
        description="Password of url's user, put into url (so it can come from a secret file: "
        "ALPR_DATABASE__PASSWORD_FILE=/run/secrets/postgres_password); null = the one in url, if any.",
    )
    reads_retention_days: int = Field(90, ge=1, le=3650, description="Plate reads older than this are dropped.")
    pool_size: int = Field(4, ge=1, le=100, description="Connections per process.")

    @model_validator(mode="before")
    @classmethod
    def _password_into_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("password"):
            return data
        url = _plain(data.get("url", _DEFAULT_DATABASE_URL))
        return {**data, "url": url_with_password(url, _plain(data["password"]))}


class LogSettings(StrictModel):
    """Logging of every process: one line per record with time, level, logger and message."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Records below this level are dropped (`alpr -v`/`-vv` lowers it to INFO/DEBUG)."
    )
    format: Literal["text", "json"] = Field(
        "text", description="text: 'time level logger: message'; json: one JSON object per line (log shippers)."
    )


class MetricsSettings(StrictModel):
    """Prometheus exposition of each process."""

    enabled: bool = Field(True, description="Serve /metrics.")
    host: str = Field("127.0.0.1", description="Listen address of the metrics endpoint.")
    edge_port: int = Field(19101, ge=1, le=65535, description="Metrics port of `alpr edge`.")
    flow_port: int = Field(19102, ge=1, le=65535, description="Metrics port of the plates flow.")
    api_port: int = Field(19103, ge=1, le=65535, description="Metrics port of `alpr api`.")


class LocalPorts(StrictModel):
    """Loopback ports of the local (no-Docker) service stack."""

    broker: int = Field(19092, ge=1, le=65535)
    registry: int = Field(18081, ge=1, le=65535)
    s3: int = Field(18333, ge=1, le=65535)
    s3_master: int = Field(19333, ge=1, le=65535)
    s3_volume: int = Field(18080, ge=1, le=65535)
    s3_filer: int = Field(18888, ge=1, le=65535)
    s3_admin: int = Field(
        19646, ge=1, le=65535, description="SeaweedFS admin; its gRPC port is +10000: keep below 22768."
    )
    postgres: int = Field(15432, ge=1, le=65535, description="Private cluster, only when DATABASE_URL fails.")
    prometheus: int = Field(19090, ge=1, le=65535)


class LocalServicesSettings(StrictModel):
    """The dev/test stack started by `alpr services up` on 127.0.0.1 (dev only)."""

    run_dir: Path = Field(Path(".alpr-run"), description="Logs, data and PID files of every local service.")
    broker_storage: Literal["memory", "s3"] = Field(
        "s3", description="memory: fast, lost on stop; s3: durable, kept in the local S3 store."
    )
    broker_bucket: str = Field("tansu", min_length=3, description="Bucket of the durable broker.")
    ports: LocalPorts = Field(default_factory=LocalPorts)
    start_timeout_s: float = Field(60.0, gt=0, le=600, description="Health-check deadline per service.")
    prometheus: bool = Field(True, description="Start Prometheus scraping the project's metrics endpoints.")


class Settings(BaseSettings):
    """Root settings; see config/default.yaml for a commented example."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="ALPR_",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    site: str = Field("default", min_length=1, description="Site name stamped on every event.")
    log: LogSettings = Field(default_factory=LogSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    services: LocalServicesSettings = Field(default_factory=LocalServicesSettings)
    edge: EdgeSettings = Field(default_factory=EdgeSettings)
    flow: FlowSettings = Field(default_factory=FlowSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Bounds of external input.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, so ALPR_* overrides what the YAML file (passed as init kwargs) says;
        # ALPR_<KEY>_FILE (a secret mounted as a file) counts as ALPR_<KEY>.
        files = SecretFilesSource(settings_cls)
        return without_file_variables(env_settings), files, init_settings, file_secret_settings
