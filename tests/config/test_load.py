"""Settings load from YAML + environment and fail with file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.load import DEFAULT_CONFIG, ConfigError, load_settings, write_settings
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_yaml_matches_model_defaults() -> None:
    # The commented default file documents the defaults: it must not drift from the model.
    assert load_settings(DEFAULT_CONFIG) == Settings()


def test_cameras_yaml_loads() -> None:
    settings = load_settings(DEFAULT_CONFIG, ROOT / "config" / "cameras.yaml")
    assert [c.id for c in settings.edge.cameras]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("kafka:\n  bootstrap_server: x:1\n", "kafka.bootstrap_server", "Extra inputs are not permitted"),
        ("kafka:\n  session_timeout_ms: 10\n", "kafka.session_timeout_ms", "greater than or equal to 1000"),
        ("s3:\n  bucket: ab\n", "s3.bucket", "at least 3 characters"),
        ("services:\n  broker_storage: disk\n", "services.broker_storage", "'memory' or 's3'"),
        ("nonsense: 1\n", "nonsense", "Extra inputs are not permitted"),
        ("flow:\n  plates:\n    sites:\n      lot-7: {formats: [US]}\n", "flow.plates.sites.lot-7.formats",
         "Extra inputs are not permitted"),
        ("flow:\n  plates:\n    cameras:\n      gate-3: {presets: []}\n", "flow.plates.cameras.gate-3.presets",
         "at least 1 item"),
    ],
)  # fmt: skip
def test_bad_values_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert f"{key}:" in message
    assert reason in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [("kafka: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "top level must be a mapping")],
)
def test_unparsable_files(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_settings(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml")


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "kafka:\n  bootstrap_servers: file:1\n  consumer_group: g\n")
    monkeypatch.setenv("ALPR_KAFKA__BOOTSTRAP_SERVERS", "env:2")
    settings = load_settings(path)
    assert settings.kafka.bootstrap_servers == "env:2"
    assert settings.kafka.consumer_group == "g"  # the rest of the section is kept


def test_bad_environment_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_S3__PRESIGN_SECONDS", "-5")
    with pytest.raises(ConfigError, match=r"s3\.presign_seconds"):
        load_settings(DEFAULT_CONFIG)


def test_secrets_are_not_printed() -> None:
    settings = load_settings(DEFAULT_CONFIG)
    assert "alpr-secret-key" not in repr(settings)
    assert settings.s3.secret_key.get_secret_value() == "alpr-secret-key"


def test_later_files_override_earlier(tmp_path: Path) -> None:
    first = write(tmp_path, "site: one\nkafka:\n  consumer_group: a\n")
    second = tmp_path / "d.yaml"
    second.write_text("kafka:\n  consumer_group: b\n", encoding="utf-8")
    settings = load_settings(first, second)
    assert (settings.site, settings.kafka.consumer_group) == ("one", "b")


def test_written_settings_load_back_equal_with_secrets(tmp_path: Path) -> None:
    settings = load_settings(DEFAULT_CONFIG, ROOT / "config" / "cameras.yaml")
    s3 = settings.s3.model_copy(update={"secret_key": type(settings.s3.secret_key)("s3cr3t")})
    settings = settings.model_copy(update={"s3": s3, "site": "north-gate"})
    path = write_settings(settings, tmp_path / "child.yaml")
    assert "s3cr3t" in path.read_text()  # a child process needs the secret itself, not its mask
    assert load_settings(path) == settings


def test_sites_and_cameras_name_their_own_presets(tmp_path: Path) -> None:
    text = (
        "flow:\n  plates:\n    sites:\n      lot-7: {presets: [US]}\n    cameras:\n      gate-3: {presets: [DE, NL]}\n"
    )
    plates = load_settings(write(tmp_path, text)).flow.plates
    assert plates.presets == ("US", "EU", "BR", "PK")
    assert plates.sites["lot-7"].presets == ("US",)
    assert plates.cameras["gate-3"].presets == ("DE", "NL")
