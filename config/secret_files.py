"""Secrets from files: ``ALPR_<KEY>_FILE=/run/secrets/x`` sets ``ALPR_<KEY>`` to the file's content.

Docker and Kubernetes mount secrets as files; pointing a variable at one keeps the secret out of
the environment, of ``docker inspect`` and of process listings. The content is used as is, less a
trailing newline. Setting both ``ALPR_<KEY>`` and ``ALPR_<KEY>_FILE`` is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

PREFIX = "ALPR_"
SUFFIX = "_FILE"


class SecretFileError(ValueError):
    """A ``*_FILE`` variable names a file that cannot be read, or clashes with its plain variable."""


def _file_variables(environ: dict[str, str]) -> dict[str, str]:
    """``{ALPR_KEY: path}`` of every ``ALPR_KEY_FILE`` variable (names upper-cased)."""
    return {
        name.upper()[: -len(SUFFIX)]: path
        for name, path in environ.items()
        if name.upper().startswith(PREFIX) and name.upper().endswith(SUFFIX)
    }


def read_secret_files(environ: dict[str, str], sections: frozenset[str] | None = None) -> dict[str, Any]:
    """Nested settings data (``{"database": {"password": ...}}``) from the ``ALPR_*_FILE`` variables.

    With ``sections``, variables whose first key is not one of them are left alone, as the
    environment source ignores ``ALPR_*`` variables that name no setting.
    """
    plain = {name.upper() for name in environ}
    data: dict[str, Any] = {}
    for name, path in sorted(_file_variables(environ).items()):
        if sections is not None and name[len(PREFIX) :].lower().split("__")[0] not in sections:
            continue
        if name in plain:
            raise SecretFileError(f"{name} and {name}{SUFFIX} are both set; keep one of them")
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretFileError(f"{name}{SUFFIX}={path}: cannot read the secret file: {exc.strerror or exc}") from exc
        *parents, leaf = name[len(PREFIX) :].lower().split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def without_file_variables(source: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    """``source`` (the environment source) ignoring ``*_FILE`` variables, which :class:`SecretFilesSource` reads."""
    if isinstance(source, EnvSettingsSource):
        source.env_vars = {k: v for k, v in source.env_vars.items() if not k.upper().endswith(SUFFIX)}
    return source


class SecretFilesSource(PydanticBaseSettingsSource):
    """Settings source of the ``ALPR_*_FILE`` variables (see the module docstring)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every variable at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return read_secret_files(dict(os.environ), frozenset(self.settings_cls.model_fields))
