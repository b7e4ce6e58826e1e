"""Settings of the plates dataflow (`python -m bytewax.run flows.plates`).

Owned by the flow; extended as the flow grows. Every model forbids unknown keys.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlowSettings(_Strict):
    """The plates dataflow."""

    track_idle_s: float = Field(2.0, gt=0, le=600, description="A track closes after this idle gap (event time).")
    track_max_s: float = Field(30.0, gt=0, le=3600, description="A track closes after this duration at most.")
    dedup_window_s: float = Field(300.0, ge=0, le=86400, description="Reads this close in time may merge.")
