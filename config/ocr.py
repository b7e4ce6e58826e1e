"""Settings of the OCR engines (`ocr/`), used by the flow and by `alpr eval`.

Owned by the OCR engines; extended as they grow. Every model forbids unknown keys.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcrSettings(_Strict):
    """Which OCR engine reads plate crops, and how."""

    type: str = Field("rapidocr", min_length=1, description="Engine name in the ocr registry.")
