"""Load settings from YAML + environment, failing with file, key and reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from config.secret_files import SecretFileError
from config.settings import Settings

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")


class ConfigError(ValueError):
    """A configuration file or environment override is invalid."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: ``source: key.path: reason (got value)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(root)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{source}: {key}: {err['msg']}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(*paths: str | os.PathLike[str] | None) -> Settings:
    """Build :class:`Settings` from YAML files (later files override earlier ones) and ALPR_* env.

    With no path, ``$ALPR_CONFIG`` (a ``:``-separated list) is used, else ``config/default.yaml``.
    Raises :class:`ConfigError` naming the file, key and reason on any invalid value.
    """
    chosen = [Path(p) for p in paths if p]
    if not chosen:
        env = os.environ.get("ALPR_CONFIG")
        chosen = [Path(p) for p in env.split(":") if p] if env else [DEFAULT_CONFIG]
    data: dict[str, Any] = {}
    for path in chosen:
        data = _merge(data, _read_yaml(path))
    source = ", ".join(str(p) for p in chosen) + " (+ ALPR_* environment)"
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc
    except SecretFileError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def _plain(value: Any) -> Any:
    """Settings as plain YAML data, secrets in clear (``model_dump`` would mask them)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def write_settings(settings: Settings, path: str | os.PathLike[str]) -> Path:
    """Write ``settings`` (secrets included) as YAML that :func:`load_settings` reads back equal.

    For handing a whole configuration to a child process (benchmarks, tests); the file holds secrets.
    """
    out = Path(path)
    out.write_text(yaml.safe_dump(_plain(settings), sort_keys=False), encoding="utf-8")
    return out
