"""Kafka and schema-registry security settings -> the client configurations of librdkafka and the registry client."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import SecretStr, ValidationError

from config.kafka import KafkaSecuritySettings, KafkaSettings, RegistrySettings, client_config, registry_config
from config.load import load_settings
from tests.fixtures.tls import Pki, make_pki

PEM = "/path/to/ca.pem"  # only copied into the configuration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Real certificates: librdkafka and the registry client read them when a client is built."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def ca(pki: Pki) -> str:
    return str(pki.ca)


def _security(**data: object) -> KafkaSecuritySettings:
    return KafkaSecuritySettings.model_validate(data)


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ({}, {"security.protocol": "PLAINTEXT"}),
        (
            {"protocol": "SASL_SSL", "mechanism": "PLAIN", "sasl": {"username": "KEY", "password": "SECRET"}},
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN",
                "sasl.username": "KEY",
                "sasl.password": "SECRET",
                "ssl.endpoint.identification.algorithm": "https",
            },
        ),
        (
            {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "sasl": {"username": "u", "password": "p"}},
            {"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p"},
        ),
        (
            {"protocol": "SASL_PLAINTEXT", "mechanism": "SCRAM-SHA-256", "sasl": {"username": "u", "password": "p"}},
            {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256"},
        ),
        (
            {
                "protocol": "SASL_SSL",
                "mechanism": "OAUTHBEARER",
                "oauth": {
                    "token_endpoint_url": "https://idp.example/token",
                    "client_id": "alpr",
                    "client_secret": "s3",
                    "scope": "kafka",
                    "extensions": "logicalCluster=lkc-1,identityPoolId=pool-2",
                },
            },
            {
                "sasl.mechanism": "OAUTHBEARER",
                "sasl.oauthbearer.method": "oidc",
                "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
                "sasl.oauthbearer.client.id": "alpr",
                "sasl.oauthbearer.client.secret": "s3",
                "sasl.oauthbearer.scope": "kafka",
                "sasl.oauthbearer.extensions": "logicalCluster=lkc-1,identityPoolId=pool-2",
            },
        ),
        (
            {
                "protocol": "SSL",
                "tls": {
                    "ca_location": PEM,
                    "certificate_location": "/c.pem",
                    "key_location": "/k.pem",
                    "key_password": "kp",
                    "verify_hostname": False,
                },
            },
            {
                "security.protocol": "SSL",
                "ssl.ca.location": PEM,
                "ssl.certificate.location": "/c.pem",
                "ssl.key.location": "/k.pem",
                "ssl.key.password": "kp",
                "ssl.endpoint.identification.algorithm": "none",
            },
        ),
    ],
    ids=["plaintext", "sasl-plain", "scram-512", "scram-256-plaintext", "oauthbearer", "mutual-tls"],
)
def test_security_settings_become_librdkafka_properties(security: dict, expected: dict) -> None:
    kafka = KafkaSettings(bootstrap_servers="b1:9093,b2:9093", security=_security(**security))
    conf = client_config(kafka, **{"client.id": "x"})
    assert conf["bootstrap.servers"] == "b1:9093,b2:9093" and conf["client.id"] == "x"
    assert expected.items() <= conf.items()
    if not kafka.security.protocol.startswith("SASL_"):
        assert not any(key.startswith("sasl.") for key in conf)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"])
def test_librdkafka_accepts_every_mechanism(mechanism: str, ca: str) -> None:
    """The properties are real librdkafka properties with valid values: clients build with them."""
    security = {
        "protocol": "SASL_SSL",
        "mechanism": mechanism,
        "sasl": {"username": "u", "password": "p"},
        "oauth": {"token_endpoint_url": "https://idp.example/token", "client_id": "c", "client_secret": "s"},
        "tls": {"ca_location": ca},
    }
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", security=_security(**security))
    Producer(client_config(kafka, log_level=0))
    AdminClient(client_config(kafka, log_level=0))
    with pytest.raises(KafkaException, match="Unsupported SASL mechanism"):  # a wrong one is refused
        Producer({**client_config(kafka, log_level=0), "sasl.mechanism": "NOPE"})


@pytest.mark.parametrize(
    ("security", "reason"),
    [
        ({"protocol": "SASL_SSL"}, "needs a mechanism"),
        ({"mechanism": "PLAIN"}, "needs protocol SASL_SSL"),
        ({"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "sasl": {"username": "u"}}, "sasl.username and"),
        ({"protocol": "SASL_SSL", "mechanism": "OAUTHBEARER"}, "oauth.token_endpoint_url"),
        ({"protocol": "SSL", "tls": {"certificate_location": "/c.pem"}}, "both certificate_location"),
        ({"protocol": "PLAINTEXT", "tls": {"ca_location": "/ca.pem"}}, "ignored with protocol PLAINTEXT"),
    ],
)
def test_inconsistent_security_settings_are_refused(security: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _security(**security)


def test_registry_settings_become_the_registry_client_configuration(pki: Pki) -> None:
    tls = {"ca_location": pki.ca, "certificate_location": pki.client_cert, "key_location": pki.client_key}
    basic = KafkaSettings(
        schema_registry_url="https://sr.example",
        schema_registry=RegistrySettings(basic_auth_user="SRKEY", basic_auth_password=SecretStr("SRSECRET"), tls=tls),
    )
    conf = registry_config(basic)
    assert conf == {
        "url": "https://sr.example",
        "timeout": 10.0,
        "basic.auth.user.info": "SRKEY:SRSECRET",
        "ssl.ca.location": str(pki.ca),
        "ssl.certificate.location": str(pki.client_cert),
        "ssl.key.location": str(pki.client_key),
    }
    client = SchemaRegistryClient(conf)  # the client accepts every key
    assert client._rest_client.auth == ("SRKEY", "SRSECRET")  # noqa: SLF001 - what it will send
    bearer = KafkaSettings(
        schema_registry_url="https://sr.example",
        schema_registry=RegistrySettings(bearer_token=SecretStr("T0K"), bearer_logical_cluster="lsrc-1"),
    )
    conf = registry_config(bearer)
    assert conf["bearer.auth.credentials.source"] == "STATIC_TOKEN" and conf["bearer.auth.token"] == "T0K"
    SchemaRegistryClient(conf)
    with pytest.raises(ValidationError, match="not both"):
        RegistrySettings(basic_auth_user="u", basic_auth_password=SecretStr("p"), bearer_token=SecretStr("t"))


def test_secrets_never_print(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "kafka:\n"
        "  security: {protocol: SASL_SSL, mechanism: SCRAM-SHA-512, sasl: {username: u, password: kafka-pw}}\n"
        "  schema_registry: {basic_auth_user: sr, basic_auth_password: sr-pw}\n"
    )
    settings = load_settings(config)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "kafka-pw" not in shown and "sr-pw" not in shown
    assert settings.kafka.security.sasl.password.get_secret_value() == "kafka-pw"


def test_kafka_secrets_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "kafka_password"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("ALPR_KAFKA__SECURITY__PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ALPR_KAFKA__SECURITY__MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("ALPR_KAFKA__SECURITY__SASL__USERNAME", "alpr")
    monkeypatch.setenv("ALPR_KAFKA__SECURITY__SASL__PASSWORD_FILE", str(secret))
    settings = load_settings()
    assert client_config(settings.kafka)["sasl.password"] == "from-a-file"
