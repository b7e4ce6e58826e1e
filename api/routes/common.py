"""What the API's route modules share: the connection dependency and the page size."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException

from api.deps import Services, connection

#: A pooled connection for the request (:func:`api.deps.connection`).
Conn = Annotated[psycopg.Connection[Any], Depends(connection)]


def page_limit(svc: Services, limit: int | None) -> int:
    """``limit`` or the default page size; 422 above ``api.max_page_size``."""
    if limit is None:
        return min(svc.settings.api.default_page_size, svc.settings.api.max_page_size)
    if limit > svc.settings.api.max_page_size:
        raise HTTPException(422, f"limit must be <= {svc.settings.api.max_page_size}, got {limit}")
    return limit
