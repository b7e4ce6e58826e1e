"""Erased plates as the flow sees them: digests and when each was erased (pure).

Erasure records keep a plate only as a digest (:func:`plate_digest`: HMAC-SHA256 with
``api.privacy.secret`` when set, else SHA-256, of the normalised plate), so the flow matches
an event's plate by its digest. :class:`ErasedPlates` answers "was this plate erased, and
when?"; an event seen at or before that time is erased data (still in flight, or replayed
after a restart), one seen later is a new sighting.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from operators.normalise import compact

__all__ = ["ErasedPlates", "plate_digest"]


def plate_digest(plate: str, secret: bytes | None) -> str:
    """``hmac-sha256:<hex>`` of the normalised plate with ``secret``, else ``sha256:<hex>``."""
    data = compact(plate).encode()
    if secret:
        return "hmac-sha256:" + hmac.new(secret, data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ErasedPlates:
    """Digest -> time of the latest erasure; ``version`` changes whenever an erasure is added."""

    version: int = 0
    at: dict[str, datetime] = field(default_factory=dict)
    secret: bytes | None = None

    def erased_at(self, plate: str) -> datetime | None:
        """When ``plate`` was last erased, or None."""
        if not self.at:
            return None
        return self.at.get(plate_digest(plate, self.secret))

    def covers(self, plate: str, seen: datetime) -> bool:
        """True when a sighting of ``plate`` at ``seen`` is erased data (seen at or before its erasure)."""
        at = self.erased_at(plate)
        return at is not None and seen <= at
