"""Kafka and schema-registry settings, and the one place their client configurations are built.

Every producer, consumer and admin client of the platform (edge, flow, API readiness, tools) gets
its librdkafka properties from :func:`client_config`, and every schema-registry client its
configuration from :func:`registry_config`, so a secured cluster (SASL PLAIN, SCRAM-SHA-256/512,
OAUTHBEARER; TLS with a private CA and client certificates) and a registry behind basic auth or a
bearer token over TLS are configured once, in ``kafka.security`` and ``kafka.schema_registry``.
Secrets are :class:`~pydantic.SecretStr`: they print as ``**********`` and only these two
functions read them. Examples (Confluent Cloud, Amazon MSK) are in ``docs/deploy.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "KafkaSecuritySettings",
    "KafkaSettings",
    "OAuthSettings",
    "RegistrySettings",
    "SaslSettings",
    "TlsSettings",
    "TopicSettings",
    "client_config",
    "registry_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicSettings(_Strict):
    """Kafka topic names, one per Avro value schema in ``schemas/``."""

    crops: str = Field("alpr.edge.crops", description="Best plate crops of each track (edge -> flow).")
    detections: str = Field("alpr.edge.detections", description="Track start/end and per-slice detections.")
    plates: str = Field("alpr.plates.detected", description="Clean plate events (flow -> consumers).")
    alerts: str = Field("alpr.alerts", description="Watchlist hits and their delivery status.")
    dead_letter: str = Field("alpr.deadletter", description="Messages that could not be decoded or delivered.")


class TlsSettings(_Strict):
    """TLS towards the brokers or the registry: a private CA and, for mutual TLS, a client certificate."""

    ca_location: Path | None = Field(
        None, description="PEM file of the CA(s) that signed the server certificate; null = the system CAs."
    )
    certificate_location: Path | None = Field(None, description="PEM client certificate (mutual TLS).")
    key_location: Path | None = Field(None, description="PEM private key of the client certificate.")
    key_password: SecretStr | None = Field(None, description="Password of an encrypted private key.")
    verify_hostname: bool = Field(
        True, description="Check that the server certificate names the host (brokers; the registry client always does)."
    )

    @model_validator(mode="after")
    def _pairs(self) -> TlsSettings:
        if (self.certificate_location is None) != (self.key_location is None):
            raise ValueError("give both certificate_location and key_location (mutual TLS), or neither")
        if self.key_password is not None and self.key_location is None:
            raise ValueError("key_password needs key_location")
        return self


class SaslSettings(_Strict):
    """SASL username/password mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)."""

    username: str | None = Field(None, description="SASL user (Confluent Cloud: the API key).")
    password: SecretStr | None = Field(
        None, description="SASL password (Confluent Cloud: the API secret); better ..._PASSWORD_FILE."
    )


class OAuthSettings(_Strict):
    """OAUTHBEARER through OpenID Connect client credentials (librdkafka fetches and refreshes tokens)."""

    token_endpoint_url: str | None = Field(None, description="OIDC token endpoint (https://.../token).")
    client_id: str | None = Field(None, description="OAuth client id.")
    client_secret: SecretStr | None = Field(None, description="OAuth client secret.")
    scope: str | None = Field(None, description="Scope(s) asked for, space-separated.")
    extensions: str | None = Field(
        None,
        description="SASL extensions k=v,k=v (Confluent Cloud: logicalCluster=lkc-...,identityPoolId=pool-...).",
    )


Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class KafkaSecuritySettings(_Strict):
    """How clients authenticate to the brokers and encrypt the connection (librdkafka ``security.*``)."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)."
    )
    mechanism: Mechanism | None = Field(
        None, description="SASL mechanism (SASL_* protocols): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER."
    )
    sasl: SaslSettings = Field(default_factory=SaslSettings, description="PLAIN and SCRAM credentials.")
    oauth: OAuthSettings = Field(default_factory=OAuthSettings, description="OAUTHBEARER (OIDC) client.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="TLS (SSL and SASL_SSL protocols).")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecuritySettings:
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.mechanism is None:
            raise ValueError(f"protocol {self.protocol} needs a mechanism (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER)")
        if not sasl and self.mechanism is not None:
            raise ValueError(f"mechanism {self.mechanism} needs protocol SASL_SSL or SASL_PLAINTEXT")
        if self.mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            if not self.sasl.username or self.sasl.password is None:
                raise ValueError(f"mechanism {self.mechanism} needs sasl.username and sasl.password")
        if self.mechanism == "OAUTHBEARER":
            o = self.oauth
            if not (o.token_endpoint_url and o.client_id and o.client_secret is not None):
                raise ValueError("mechanism OAUTHBEARER needs oauth.token_endpoint_url, client_id and client_secret")
        if not self.protocol.endswith("SSL") and self.tls != TlsSettings():
            raise ValueError(f"tls settings are ignored with protocol {self.protocol}: use SSL or SASL_SSL")
        return self


class RegistrySettings(_Strict):
    """Authentication and TLS towards the schema registry (``kafka.schema_registry_url``)."""

    basic_auth_user: str | None = Field(None, description="HTTP basic auth user (Confluent Cloud: SR API key).")
    basic_auth_password: SecretStr | None = Field(None, description="HTTP basic auth password (SR API secret).")
    bearer_token: SecretStr | None = Field(None, description="Static bearer token (Authorization: Bearer).")
    bearer_logical_cluster: str = Field(
        "", description="Registry cluster id sent with a bearer token (Confluent Cloud: lsrc-...)."
    )
    bearer_identity_pool: str | None = Field(None, description="Identity pool id sent with a bearer token.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="CA and client certificate (https URLs).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="HTTP timeout of one registry request.")

    @model_validator(mode="after")
    def _one_auth(self) -> RegistrySettings:
        if (self.basic_auth_user is None) != (self.basic_auth_password is None):
            raise ValueError("give both basic_auth_user and basic_auth_password, or neither")
        if self.basic_auth_user is not None and self.bearer_token is not None:
            raise ValueError("give basic auth or a bearer token, not both")
        return self


class KafkaSettings(_Strict):
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
    security: KafkaSecuritySettings = Field(
        default_factory=KafkaSecuritySettings, description="SASL and TLS towards the brokers."
    )
    schema_registry: RegistrySettings = Field(
        default_factory=RegistrySettings, description="Authentication and TLS towards the schema registry."
    )


def _tls_files(tls: TlsSettings) -> dict[str, str]:
    """The ``ssl.*`` file properties (and key password) that ``tls`` sets; both clients name them alike."""
    given = {
        "ssl.ca.location": tls.ca_location,
        "ssl.certificate.location": tls.certificate_location,
        "ssl.key.location": tls.key_location,
        "ssl.key.password": tls.key_password.get_secret_value() if tls.key_password else None,
    }
    return {key: str(value) for key, value in given.items() if value is not None}


def client_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """librdkafka properties of a producer, consumer or admin client of ``kafka``'s cluster.

    ``bootstrap.servers`` and every ``security.*``, ``sasl.*`` and ``ssl.*`` property come from
    the settings; ``overrides`` (``linger.ms``, ``group.id``, callbacks...) are added on top.
    """
    sec = kafka.security
    conf: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap_servers, "security.protocol": sec.protocol}
    if sec.mechanism is not None:
        conf["sasl.mechanism"] = sec.mechanism
    if sec.mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        assert sec.sasl.password is not None  # checked by the settings
        conf["sasl.username"] = sec.sasl.username
        conf["sasl.password"] = sec.sasl.password.get_secret_value()
    elif sec.mechanism == "OAUTHBEARER":
        o = sec.oauth
        assert o.client_secret is not None  # checked by the settings
        conf.update(
            {
                "sasl.oauthbearer.method": "oidc",
                "sasl.oauthbearer.token.endpoint.url": o.token_endpoint_url,
                "sasl.oauthbearer.client.id": o.client_id,
                "sasl.oauthbearer.client.secret": o.client_secret.get_secret_value(),
            }
        )
        if o.scope:
            conf["sasl.oauthbearer.scope"] = o.scope
        if o.extensions:
            conf["sasl.oauthbearer.extensions"] = o.extensions
    if sec.protocol.endswith("SSL"):
        conf.update(_tls_files(sec.tls))
        conf["ssl.endpoint.identification.algorithm"] = "https" if sec.tls.verify_hostname else "none"
    conf.update(overrides)
    return conf


def registry_config(kafka: KafkaSettings) -> dict[str, Any]:
    """Configuration of a ``confluent_kafka`` ``SchemaRegistryClient`` for ``kafka.schema_registry_url``."""
    reg = kafka.schema_registry
    conf: dict[str, Any] = {"url": kafka.schema_registry_url, "timeout": reg.timeout_s}
    if reg.basic_auth_user is not None and reg.basic_auth_password is not None:
        conf["basic.auth.user.info"] = f"{reg.basic_auth_user}:{reg.basic_auth_password.get_secret_value()}"
    if reg.bearer_token is not None:
        conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
        conf["bearer.auth.token"] = reg.bearer_token.get_secret_value()
        conf["bearer.auth.logical.cluster"] = reg.bearer_logical_cluster
        if reg.bearer_identity_pool:
            conf["bearer.auth.identity.pool.id"] = reg.bearer_identity_pool
    conf.update(_tls_files(reg.tls))
    return conf
