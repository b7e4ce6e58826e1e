"""Bounds on what enters the platform from outside: strings, images, event times, dead letters.

Enforced in one place per edge with :func:`operators.text.check_text`: the flow's Avro decode
(crop ids, image size, frame time), the API's request bodies and the watchlist CSV import. A
value past a bound is refused with a message naming the field and the bound (a dead letter in
the flow, a 422 in the API, a line error in a CSV), never truncated silently.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LimitSettings(BaseModel):
    """Bounds of external input (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_chars: int = Field(
        128, ge=8, le=1000, description="camera_id, site, track_id, vehicle_track_id: longest, in characters."
    )
    crop_id_chars: int = Field(512, ge=16, le=4000, description="crop_id (camera:track:frame): longest.")
    image_format_chars: int = Field(16, ge=3, le=64, description="image_format of a crop: longest.")
    image_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest crop image accepted, in bytes."
    )
    max_future_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description="Crops stamped further ahead of the flow's clock are refused (clock skew allowance).",
    )
    pattern_chars: int = Field(200, ge=10, le=2000, description="Watchlist entry pattern (regex too): longest.")
    regex_program_size: int = Field(
        2000, ge=100, le=100_000, description="Largest compiled RE2 program of a watchlist regex (complexity)."
    )
    name_chars: int = Field(200, ge=10, le=2000, description="Names, severities, channels: longest.")
    text_chars: int = Field(2000, ge=10, le=100_000, description="Free text (notes, descriptions, reasons).")
    dead_letter_bytes: int = Field(
        512 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Key + value bytes kept in a dead letter (more is cut, the reason says so); keep "
        "below the broker's message.max.bytes.",
    )
