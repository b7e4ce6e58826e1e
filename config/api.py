"""Settings of the query API (`alpr api`). Owned by the API; every model forbids unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Strict):
    """HTTP query API."""

    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(18000, ge=1, le=65535, description="Listen port.")
