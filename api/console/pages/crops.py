"""Crop images, served through the console (object storage need not be reachable from browsers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from api import events
from api.console.auth import viewer
from api.console.pages.common import Conn, router
from api.console.sessions import Session
from api.deps import services
from api.storage import StorageError

router = router()
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}


@router.get("/crops/{event_id}")
def crop(request: Request, event_id: uuid.UUID, conn: Conn, session: Annotated[Session, Depends(viewer)]) -> Response:
    """The best crop of an event (an image, cached privately for a few minutes)."""
    event = events.find(conn, event_id)
    if event is None or not event["crop_key"]:
        raise HTTPException(404, f"event {event_id} has no stored crop")
    try:
        found = services(request).images.read(event["crop_key"])
    except StorageError as exc:
        raise HTTPException(503, f"object storage: {exc}") from exc
    if found is None:
        raise HTTPException(404, f"the crop of event {event_id} is gone (retention or erasure)")
    data, content_type = found
    media = content_type if content_type in IMAGE_TYPES else "image/jpeg"
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=300"})
