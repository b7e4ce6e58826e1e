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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.api import ApiSettings
from config.edge import EdgeSettings
from config.flow import FlowSettings
from config.limits import LimitSettings
from config.ocr import OcrSettings


class StrictModel(BaseModel):
    """Base for every settings section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicSettings(StrictModel):
    """Kafka topic names, one per Avro value schema in ``schemas/``."""

    crops: str = Field("alpr.edge.crops", description="Best plate crops of each track (edge -> flow).")
    detections: str = Field("alpr.edge.detections", description="Track start/end and per-slice detections.")
    plates: str = Field("alpr.plates.detected", description="Clean plate events (flow -> consumers).")
    alerts: str = Field("alpr.alerts", description="Watchlist hits and their delivery status.")
    dead_letter: str = Field("alpr.deadletter", description="Messages that could not be decoded or delivered.")


class KafkaSettings(StrictModel):
    """Broker and schema registry. Production: Apache Kafka + Confluent Schema Registry."""

    bootstrap_servers: str = Field("127.0.0.1:19092", description="host:port[,host:port...] of the brokers.")
    schema_registry_url: str = Field(
        "http://127.0.0.1:18081", description="Confluent Schema Registry (or the dev-only local one)."
    )
    topics: TopicSettings = Field(default_factory=TopicSettings)
    consumer_group: str = Field("alpr-flow", min_length=1, description="Consumer group of the plates flow.")
    session_timeout_ms: int = Field(
        6000, ge=1000, le=300_000, description="Consumer session timeout; keep <= 6000 with the Tansu broker."
    )
    compression: Literal["none", "lz4", "zstd", "gzip", "snappy"] = Field(
        "lz4", description="Producer compression codec."
    )


class S3Settings(StrictModel):
    """Object storage for plate crops (MinIO, AWS S3, SeaweedFS)."""

    endpoint: str = Field("127.0.0.1:18333", description="host:port of the S3 API, without scheme.")
    secure: bool = Field(False, description="Use https.")
    access_key: str = Field("alpr", description="Access key id.")
    secret_key: SecretStr = Field(SecretStr("alpr-secret-key"), description="Secret access key.")
    region: str = Field("us-east-1", description="Region name sent in signatures.")
    bucket: str = Field("alpr-crops", min_length=3, max_length=63, description="Bucket for crops.")
    presign_seconds: int = Field(900, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned crop URLs.")


class DatabaseSettings(StrictModel):
    """PostgreSQL (optionally with TimescaleDB)."""

    url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/alpr"),
        description="libpq URL of the database; created by `alpr db migrate` when missing.",
    )
    reads_retention_days: int = Field(90, ge=1, le=3650, description="Plate reads older than this are dropped.")
    pool_size: int = Field(4, ge=1, le=100, description="Connections per process.")


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
        # Environment first, so ALPR_* overrides what the YAML file (passed as init kwargs) says.
        return env_settings, init_settings, file_secret_settings
