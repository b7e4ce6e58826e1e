"""Typed, frozen records passed between the steps of the plates dataflow.

One record per stage, validated on construction (the error names the field and the bad
value) and converted at the boundary with ``from_avro`` / ``to_avro``::

    PlateCrop --(OCR)--> OcrRead --(best_shot.vote)--> TrackRead
        --(validate)--> PlateRead | RejectedRead --(dedup)--> PlateEvent
        --(watchlist)--> WatchlistHit

Avro dicts are the ones fastavro reads and writes: ``timestamp-millis`` fields are
tz-aware UTC datetimes, records are nested dicts, enums are their symbol strings. All
datetimes held by these records are tz-aware and in UTC.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from operators.regex import PatternError, compile_plate_regex

__all__ = [
    "ALPR_NAMESPACE",
    "BANDS",
    "Box",
    "DeadLetter",
    "MatchType",
    "OcrRead",
    "PlateCrop",
    "PlateEvent",
    "PlateRead",
    "RecordError",
    "RejectReason",
    "RejectedRead",
    "TrackRead",
    "Vehicle",
    "WatchlistEntry",
    "WatchlistHit",
    "to_millis",
]

#: Namespace of every deterministic id the flow derives (event ids, alert ids).
ALPR_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/alpr-platform/alpr")

MatchType = Literal["exact", "regex", "fuzzy"]
RejectReason = Literal["empty", "too_short", "too_long", "no_format_match", "low_confidence"]
_MATCH_TYPES: tuple[str, ...] = ("exact", "regex", "fuzzy")
_REJECT_REASONS: tuple[str, ...] = ("empty", "too_short", "too_long", "no_format_match", "low_confidence")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLATE_RE = re.compile(r"[A-Z0-9]+")


class RecordError(ValueError):
    """A record could not be built: a field is missing or has a bad value."""


# --- validation helpers ---------------------------------------------------------------
# Each returns the (possibly coerced) value or raises RecordError naming record.field.


def _str(owner: str, name: str, value: object, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{owner}.{name} must be a str, got {value!r}")
    if not empty and not value:
        raise RecordError(f"{owner}.{name} must not be empty")
    return value


def _opt_str(owner: str, name: str, value: object) -> str | None:
    return None if value is None else _str(owner, name, value, empty=True)


def _int(owner: str, name: str, value: object, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{owner}.{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise RecordError(f"{owner}.{name} must be >= {minimum}, got {value!r}")
    return value


def _float(owner: str, name: str, value: object, *, unit: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{owner}.{name} must be a finite number, got {value!r}")
    if unit and not 0.0 <= value <= 1.0:
        raise RecordError(f"{owner}.{name} must be in [0, 1], got {value!r}")
    return float(value)


def _utc(owner: str, name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise RecordError(f"{owner}.{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordError(f"{owner}.{name} must be tz-aware, got naive {value.isoformat()}")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _opt_utc(owner: str, name: str, value: object) -> datetime | None:
    return None if value is None else _utc(owner, name, value)


def _ordered(owner: str, first_seen: datetime, last_seen: datetime) -> None:
    if last_seen < first_seen:
        raise RecordError(f"{owner}.last_seen {last_seen.isoformat()} is before first_seen {first_seen.isoformat()}")


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses: __post_init__ may still store the coerced value.
    object.__setattr__(obj, name, value)


def _avro_ts(owner: str, name: str, value: object) -> datetime:
    """A timestamp-millis value from fastavro (datetime) or raw epoch millis (int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH + timedelta(milliseconds=value)
    return _utc(owner, name, value)


def _field(owner: str, d: Mapping[str, Any], name: str) -> Any:
    try:
        return d[name]
    except KeyError:
        raise RecordError(f"{owner}: missing field {name!r}") from None
    except TypeError as exc:
        raise RecordError(f"{owner}: expected a mapping, got {type(d).__name__}") from exc


def _box(owner: str, name: str, value: Any) -> Box:
    try:
        return Box.from_avro(value)
    except RecordError as exc:
        raise RecordError(f"{owner}.{name}: {exc}") from exc


def _unit_floats(owner: str, values: Iterable[object]) -> tuple[float, ...]:
    """``values`` as a tuple of floats in [0, 1]; one cheap pass when they already are."""
    if type(values) is tuple and all(type(c) is float and 0.0 <= c <= 1.0 for c in values):
        return values
    return tuple(_float(owner, "char_confidences[]", c, unit=True) for c in values)


def _fast_box(d: dict[str, Any]) -> Box | None:
    """A :class:`Box` from a plain Avro dict whose values are valid ints, else None."""
    if len(d) != 4:
        return None
    x, y, w, h = d.get("x"), d.get("y"), d.get("w"), d.get("h")
    if not (type(x) is int and type(y) is int and type(w) is int and w >= 0 and type(h) is int and h >= 0):
        return None
    box = object.__new__(Box)
    object.__setattr__(box, "x", x)
    object.__setattr__(box, "y", y)
    object.__setattr__(box, "w", w)
    object.__setattr__(box, "h", h)
    return box


def to_millis(ts: datetime) -> int:
    """Epoch milliseconds of a tz-aware datetime (what Avro timestamp-millis stores)."""
    return (ts - _EPOCH) // timedelta(milliseconds=1)


# --- records --------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left ``x, y``, size ``w, h`` (non-negative)."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        _int("Box", "x", self.x)
        _int("Box", "y", self.y)
        _int("Box", "w", self.w, minimum=0)
        _int("Box", "h", self.h, minimum=0)

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Box:
        """Build from an Avro ``Box`` record."""
        if not isinstance(d, Mapping):
            raise RecordError(f"Box: expected a mapping, got {type(d).__name__}")
        try:
            return cls(d["x"], d["y"], d["w"], d["h"])
        except KeyError as exc:
            raise RecordError(f"Box: missing field {exc.args[0]!r}") from None

    def to_avro(self) -> dict[str, int]:
        """The Avro ``Box`` record."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}

    @property
    def area(self) -> int:
        """Area in square pixels."""
        return self.w * self.h


_VEHICLE_TEXT = ("vehicle_type", "vehicle_colour", "vehicle_make", "vehicle_model")
#: ``PlateCrop.band``: what the edge saw of a European band (:class:`operators.plate_band.Band`'s values).
BANDS = ("present", "absent", "unknown")


@dataclass(slots=True, frozen=True)
class Vehicle:
    """The vehicle carrying a plate (or passing without one), as the edge described it.

    ``type`` (car, truck, bus, motorcycle) and ``colour`` are voted over the vehicle's track;
    ``make``/``model`` come only from a plugged-in classifier (none is shipped).
    """

    track_id: str | None = None
    bbox: Box | None = None
    type: str | None = None
    colour: str | None = None
    make: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        o = "Vehicle"
        for name in ("track_id", "type", "colour", "make", "model"):
            _opt_str(o, name, getattr(self, name))
        if self.bbox is not None and not isinstance(self.bbox, Box):
            raise RecordError(f"{o}.bbox must be a Box or None, got {self.bbox!r}")


@dataclass(slots=True, frozen=True)
class PlateCrop:
    """One plate crop published by the edge (Avro ``io.alpr.edge.PlateCrop``)."""

    camera_id: str
    site: str
    track_id: str
    crop_id: str
    frame_index: int
    frame_ts: datetime
    published_ts: datetime
    bbox: Box
    frame_width: int
    frame_height: int
    det_confidence: float
    quality: float
    sharpness: float
    image: bytes = field(repr=False)
    image_format: str = "jpeg"
    vehicle_track_id: str | None = None
    vehicle_bbox: Box | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    vehicle_make: str | None = None
    vehicle_model: str | None = None
    #: A vehicle on which no plate was seen: ``image`` is the vehicle, ``bbox`` its box.
    no_plate: bool = False
    #: What the edge saw of a European band in the crop (:data:`BANDS`); None: not looked at.
    band: str | None = None

    def __post_init__(self) -> None:
        o = "PlateCrop"
        _str(o, "camera_id", self.camera_id)
        _str(o, "site", self.site)
        _str(o, "track_id", self.track_id)
        _str(o, "crop_id", self.crop_id)
        _int(o, "frame_index", self.frame_index, minimum=0)
        # Per-crop hot path: store a coerced value only when it differs from the given one.
        for name, value, unit in (
            ("frame_ts", self.frame_ts, None),
            ("published_ts", self.published_ts, None),
            ("det_confidence", self.det_confidence, True),
            ("quality", self.quality, True),
            ("sharpness", self.sharpness, False),
        ):
            new = _utc(o, name, value) if unit is None else _float(o, name, value, unit=unit)
            if new is not value:
                _set(self, name, new)
        if not isinstance(self.bbox, Box):
            raise RecordError(f"{o}.bbox must be a Box, got {self.bbox!r}")
        _int(o, "frame_width", self.frame_width, minimum=0)
        _int(o, "frame_height", self.frame_height, minimum=0)
        if isinstance(self.image, bytearray | memoryview):
            _set(self, "image", bytes(self.image))
        if not isinstance(self.image, bytes):
            raise RecordError(f"{o}.image must be bytes, got {type(self.image).__name__}")
        _str(o, "image_format", self.image_format)
        _opt_str(o, "vehicle_track_id", self.vehicle_track_id)
        if self.vehicle_bbox is not None and not isinstance(self.vehicle_bbox, Box):
            raise RecordError(f"{o}.vehicle_bbox must be a Box or None, got {self.vehicle_bbox!r}")
        for name in _VEHICLE_TEXT:
            _opt_str(o, name, getattr(self, name))
        if not isinstance(self.no_plate, bool):
            raise RecordError(f"{o}.no_plate must be a bool, got {self.no_plate!r}")
        if self.band is not None and self.band not in BANDS:
            raise RecordError(f"{o}.band must be one of {', '.join(BANDS)} or null, got {self.band!r}")

    @property
    def vehicle(self) -> Vehicle | None:
        """The vehicle the edge described with this crop, or None when it named none."""
        if self.vehicle_track_id is None and self.vehicle_type is None and self.vehicle_colour is None:
            return None
        return Vehicle(
            self.vehicle_track_id, self.vehicle_bbox, self.vehicle_type, self.vehicle_colour,
            self.vehicle_make, self.vehicle_model,
        )  # fmt: skip

    @property
    def key(self) -> str:
        """The track key ``camera_id:track_id`` the flow groups crops by."""
        return f"{self.camera_id}:{self.track_id}"

    @classmethod
    def _from_mapping(cls, d: Mapping[str, Any]) -> PlateCrop:
        """:meth:`from_avro` for any other shape of record: each field converted (epoch millis,
        tz offsets) and checked by the constructor."""
        o = "PlateCrop"
        if not isinstance(d, Mapping):
            raise RecordError(f"{o}: expected a mapping, got {type(d).__name__}")
        try:
            frame_ts, published_ts, bbox = d["frame_ts"], d["published_ts"], d["bbox"]
            vbox = d.get("vehicle_bbox")
            return cls(
                camera_id=d["camera_id"],
                site=d["site"],
                track_id=d["track_id"],
                crop_id=d["crop_id"],
                frame_index=d["frame_index"],
                frame_ts=frame_ts if isinstance(frame_ts, datetime) else _avro_ts(o, "frame_ts", frame_ts),
                published_ts=(
                    published_ts if isinstance(published_ts, datetime) else _avro_ts(o, "published_ts", published_ts)
                ),
                bbox=_box(o, "bbox", bbox),
                frame_width=d["frame_width"],
                frame_height=d["frame_height"],
                det_confidence=d["det_confidence"],
                quality=d["quality"],
                sharpness=d["sharpness"],
                image=d["image"],
                image_format=d.get("image_format", "jpeg"),
                vehicle_track_id=d.get("vehicle_track_id"),
                vehicle_bbox=None if vbox is None else _box(o, "vehicle_bbox", vbox),
                vehicle_type=d.get("vehicle_type"),
                vehicle_colour=d.get("vehicle_colour"),
                vehicle_make=d.get("vehicle_make"),
                vehicle_model=d.get("vehicle_model"),
                no_plate=d.get("no_plate", False),
                band=d.get("band"),
            )
        except KeyError as exc:
            raise RecordError(f"{o}: missing field {exc.args[0]!r}") from None
        except RecordError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. a value of the wrong kind deep inside
            raise RecordError(f"{o}: cannot decode: {exc}") from exc

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> PlateCrop:
        """Build from a decoded Avro ``PlateCrop`` (the edge's own ``to_avro`` or fastavro's
        output); raises :class:`RecordError` on bad input. This is the decode step's per-crop path.

        One combined check of every field (exact types, ranges, UTC datetimes: what fastavro
        yields for the ``plate_crop`` schema); a record that passes is built without
        re-running ``__post_init__``. Anything else, including a valid record in another
        shape (epoch-millis ints, tz offsets), is converted field by field and checked by the
        constructor (:meth:`_from_mapping`): the same record, or the same error, either way.
        """
        if type(d) is not dict or len(d) != 23:
            return cls._from_mapping(d)
        g = d.get
        camera_id, site, track_id, crop_id = g("camera_id"), g("site"), g("track_id"), g("crop_id")
        frame_index, frame_ts, published_ts = g("frame_index"), g("frame_ts"), g("published_ts")
        bbox, fw, fh = g("bbox"), g("frame_width"), g("frame_height")
        det, quality, sharpness = g("det_confidence"), g("quality"), g("sharpness")
        image, image_format, vtrack, vbox = g("image"), g("image_format"), g("vehicle_track_id"), g("vehicle_bbox")
        vtype, vcolour, vmake, vmodel = g("vehicle_type"), g("vehicle_colour"), g("vehicle_make"), g("vehicle_model")
        no_plate, band = g("no_plate"), g("band")
        if not (
            type(camera_id) is str
            and camera_id
            and type(site) is str
            and site
            and type(track_id) is str
            and track_id
            and type(crop_id) is str
            and crop_id
            and type(frame_index) is int
            and frame_index >= 0
            and type(frame_ts) is datetime
            and frame_ts.tzinfo is UTC
            and type(published_ts) is datetime
            and published_ts.tzinfo is UTC
            and type(bbox) is dict
            and type(fw) is int
            and fw >= 0
            and type(fh) is int
            and fh >= 0
            and type(det) is float
            and 0.0 <= det <= 1.0  # False for NaN
            and type(quality) is float
            and 0.0 <= quality <= 1.0
            and type(sharpness) is float
            and -math.inf < sharpness < math.inf
            and type(image) is bytes
            and type(image_format) is str
            and image_format
            and (vtrack is None or type(vtrack) is str)
            and vbox is None
            and (vtype is None or (type(vtype) is str and vtype))
            and (vcolour is None or (type(vcolour) is str and vcolour))
            and vmake is None
            and vmodel is None
            and no_plate is False
            and (band is None or band in BANDS)
        ):
            return cls._from_mapping(d)
        box = _fast_box(bbox)
        if box is None:
            return cls._from_mapping(d)
        crop = object.__new__(cls)
        s = object.__setattr__
        s(crop, "camera_id", camera_id)
        s(crop, "site", site)
        s(crop, "track_id", track_id)
        s(crop, "crop_id", crop_id)
        s(crop, "frame_index", frame_index)
        s(crop, "frame_ts", frame_ts)
        s(crop, "published_ts", published_ts)
        s(crop, "bbox", box)
        s(crop, "frame_width", fw)
        s(crop, "frame_height", fh)
        s(crop, "det_confidence", det)
        s(crop, "quality", quality)
        s(crop, "sharpness", sharpness)
        s(crop, "image", image)
        s(crop, "image_format", image_format)
        s(crop, "vehicle_track_id", vtrack)
        s(crop, "vehicle_bbox", None)
        s(crop, "vehicle_type", vtype)
        s(crop, "vehicle_colour", vcolour)
        s(crop, "vehicle_make", None)
        s(crop, "vehicle_model", None)
        s(crop, "no_plate", False)
        s(crop, "band", band)
        return crop

    def to_avro(self) -> dict[str, Any]:
        """The Avro ``PlateCrop`` dict (datetimes for timestamp-millis fields)."""
        return {
            "camera_id": self.camera_id,
            "site": self.site,
            "track_id": self.track_id,
            "crop_id": self.crop_id,
            "frame_index": self.frame_index,
            "frame_ts": self.frame_ts,
            "published_ts": self.published_ts,
            "bbox": self.bbox.to_avro(),
            "frame_width": self.frame_width,
            "frame_height": self.frame_height,
            "det_confidence": self.det_confidence,
            "quality": self.quality,
            "sharpness": self.sharpness,
            "image": self.image,
            "image_format": self.image_format,
            "vehicle_track_id": self.vehicle_track_id,
            "vehicle_bbox": None if self.vehicle_bbox is None else self.vehicle_bbox.to_avro(),
            "vehicle_type": self.vehicle_type,
            "vehicle_colour": self.vehicle_colour,
            "vehicle_make": self.vehicle_make,
            "vehicle_model": self.vehicle_model,
            "no_plate": self.no_plate,
            "band": self.band,
        }


@dataclass(slots=True, frozen=True)
class OcrRead:
    """One OCR result for one crop.

    ``char_confidences`` holds one value in [0, 1] per character of ``text``, or is empty
    when the engine gives none (voting then uses ``confidence`` for every character).
    """

    crop_id: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        o = "OcrRead"
        _str(o, "crop_id", self.crop_id)
        _str(o, "text", self.text, empty=True)
        _set(self, "confidence", _float(o, "confidence", self.confidence, unit=True))
        chars = _unit_floats(o, self.char_confidences)
        if chars and len(chars) != len(self.text):
            raise RecordError(
                f"{o}.char_confidences must be empty or one per character of {self.text!r}, got {len(chars)} values"
            )
        _set(self, "char_confidences", chars)

    @classmethod
    def make(cls, crop_id: str, text: str, confidence: float, char_confidences: tuple[float, ...] = ()) -> OcrRead:
        """The constructor for the per-crop hot path: same result and errors, about 2x cheaper.

        Values of exactly the expected types and ranges (what the OCR step passes) are stored
        without re-running ``__post_init__``; anything else goes through the constructor.
        """
        if not (
            type(crop_id) is str
            and crop_id
            and type(text) is str
            and type(confidence) is float
            and 0.0 <= confidence <= 1.0  # False for NaN
            and type(char_confidences) is tuple
            and (not char_confidences or len(char_confidences) == len(text))
            and all(type(c) is float and 0.0 <= c <= 1.0 for c in char_confidences)
        ):
            return cls(crop_id, text, confidence, char_confidences)
        read = object.__new__(cls)
        _set(read, "crop_id", crop_id)
        _set(read, "text", text)
        _set(read, "confidence", confidence)
        _set(read, "char_confidences", char_confidences)
        return read


@dataclass(slots=True, frozen=True)
class TrackRead:
    """The voted read of one track (best-shot voting over its crops' OCR reads)."""

    camera_id: str
    site: str
    track_id: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    best_crop: PlateCrop
    n_crops: int
    n_reads: int
    first_seen: datetime
    last_seen: datetime
    provisional: bool = False
    vehicle: Vehicle | None = None

    def __post_init__(self) -> None:
        o = "TrackRead"
        _str(o, "camera_id", self.camera_id)
        _str(o, "site", self.site)
        _str(o, "track_id", self.track_id)
        _str(o, "text", self.text, empty=True)
        _set(self, "confidence", _float(o, "confidence", self.confidence, unit=True))
        chars = _unit_floats(o, self.char_confidences)
        if chars and len(chars) != len(self.text):
            raise RecordError(f"{o}.char_confidences must be empty or one per character of {self.text!r}")
        _set(self, "char_confidences", chars)
        if not isinstance(self.best_crop, PlateCrop):
            raise RecordError(f"{o}.best_crop must be a PlateCrop, got {type(self.best_crop).__name__}")
        _int(o, "n_crops", self.n_crops, minimum=1)
        _int(o, "n_reads", self.n_reads, minimum=0)
        _set(self, "first_seen", _utc(o, "first_seen", self.first_seen))
        _set(self, "last_seen", _utc(o, "last_seen", self.last_seen))
        _ordered(o, self.first_seen, self.last_seen)
        if not isinstance(self.provisional, bool):
            raise RecordError(f"{o}.provisional must be a bool, got {self.provisional!r}")
        if self.vehicle is not None and not isinstance(self.vehicle, Vehicle):
            raise RecordError(f"{o}.vehicle must be a Vehicle or None, got {type(self.vehicle).__name__}")

    @property
    def key(self) -> str:
        """The track key ``camera_id:track_id``."""
        return f"{self.camera_id}:{self.track_id}"


@dataclass(slots=True, frozen=True)
class PlateRead:
    """A normalised read that matched a plate format.

    ``plate`` is the normalised text (``[A-Z0-9]+``, confusions fixed by position),
    ``plate_raw`` the voted OCR text, ``region`` the best-matching region (e.g. ``"US-CA"``,
    ``"DE"``) or None when ambiguous, ``format_name`` the preset or custom format matched.
    """

    read: TrackRead
    plate: str
    plate_raw: str
    region: str | None
    format_name: str

    def __post_init__(self) -> None:
        o = "PlateRead"
        if not isinstance(self.read, TrackRead):
            raise RecordError(f"{o}.read must be a TrackRead, got {type(self.read).__name__}")
        if self.read.best_crop.no_plate:  # a vehicle without a plate: nothing was read
            if self.plate:
                raise RecordError(f"{o}.plate must be empty for a no-plate vehicle, got {self.plate!r}")
        elif _PLATE_RE.fullmatch(_str(o, "plate", self.plate)) is None:
            raise RecordError(f"{o}.plate must match [A-Z0-9]+, got {self.plate!r}")
        _str(o, "plate_raw", self.plate_raw, empty=True)
        _opt_str(o, "region", self.region)
        _str(o, "format_name", self.format_name)


@dataclass(slots=True, frozen=True)
class RejectedRead:
    """A voted read that failed validation; ``reason`` is one of :data:`RejectReason`."""

    read: TrackRead
    reason: RejectReason
    detail: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.read, TrackRead):
            raise RecordError(f"RejectedRead.read must be a TrackRead, got {type(self.read).__name__}")
        if self.reason not in _REJECT_REASONS:
            raise RecordError(f"RejectedRead.reason must be one of {_REJECT_REASONS}, got {self.reason!r}")
        _str("RejectedRead", "detail", self.detail, empty=True)

    @property
    def plate_raw(self) -> str:
        """The voted OCR text that was rejected."""
        return self.read.text


@dataclass(slots=True, frozen=True)
class PlateEvent:
    """One plate event per vehicle pass (Avro ``io.alpr.plates.PlateEvent``).

    ``event_id`` is deterministic (:meth:`make_id`); an update of an event (dedup merge,
    provisional -> final) keeps it, so sinks upsert on it.
    """

    event_id: str
    camera_id: str
    site: str
    track_id: str
    plate: str
    plate_raw: str
    confidence: float
    region: str | None
    first_seen: datetime
    last_seen: datetime
    frame_ts: datetime
    sightings: int = 1
    crop_key: str | None = None
    crop_url: str | None = None
    provisional: bool = False
    vehicle: Vehicle | None = None
    #: A vehicle that passed with no plate seen: ``plate`` and ``plate_raw`` are empty.
    no_plate: bool = False

    def __post_init__(self) -> None:
        o = "PlateEvent"
        try:
            uuid.UUID(self.event_id)
        except (TypeError, ValueError, AttributeError):
            raise RecordError(f"{o}.event_id must be a uuid string, got {self.event_id!r}") from None
        _str(o, "camera_id", self.camera_id)
        _str(o, "site", self.site)
        _str(o, "track_id", self.track_id)
        if not isinstance(self.no_plate, bool):
            raise RecordError(f"{o}.no_plate must be a bool, got {self.no_plate!r}")
        if self.no_plate and self.plate != "":
            raise RecordError(f"{o}.plate must be empty for a no-plate event, got {self.plate!r}")
        _str(o, "plate", self.plate, empty=self.no_plate)
        _str(o, "plate_raw", self.plate_raw, empty=True)
        _set(self, "confidence", _float(o, "confidence", self.confidence, unit=True))
        _opt_str(o, "region", self.region)
        if self.vehicle is not None and not isinstance(self.vehicle, Vehicle):
            raise RecordError(f"{o}.vehicle must be a Vehicle or None, got {type(self.vehicle).__name__}")
        _set(self, "first_seen", _utc(o, "first_seen", self.first_seen))
        _set(self, "last_seen", _utc(o, "last_seen", self.last_seen))
        _set(self, "frame_ts", _utc(o, "frame_ts", self.frame_ts))
        _ordered(o, self.first_seen, self.last_seen)
        _int(o, "sightings", self.sightings, minimum=1)
        _opt_str(o, "crop_key", self.crop_key)
        _opt_str(o, "crop_url", self.crop_url)
        if not isinstance(self.provisional, bool):
            raise RecordError(f"{o}.provisional must be a bool, got {self.provisional!r}")

    @staticmethod
    def make_id(camera_id: str, track_id: str, first_seen: datetime) -> str:
        """uuid5 of camera, track and first-seen time (to the millisecond, as Avro keeps it)."""
        ms = to_millis(_utc("PlateEvent", "first_seen", first_seen))
        return str(uuid.uuid5(ALPR_NAMESPACE, f"plate-event\x1f{camera_id}\x1f{track_id}\x1f{ms}"))

    @classmethod
    def from_read(cls, read: PlateRead, *, crop_key: str | None = None, crop_url: str | None = None) -> PlateEvent:
        """A new event (one sighting) for a validated read."""
        t = read.read
        return cls(
            event_id=cls.make_id(t.camera_id, t.track_id, t.first_seen),
            camera_id=t.camera_id,
            site=t.site,
            track_id=t.track_id,
            plate=read.plate,
            plate_raw=read.plate_raw,
            confidence=t.confidence,
            region=read.region,
            first_seen=t.first_seen,
            last_seen=t.last_seen,
            frame_ts=t.best_crop.frame_ts,
            sightings=1,
            crop_key=crop_key,
            crop_url=crop_url,
            provisional=t.provisional,
            vehicle=t.vehicle,
            no_plate=t.best_crop.no_plate,
        )

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> PlateEvent:
        """Build from a decoded Avro ``PlateEvent``; raises :class:`RecordError` on bad input."""
        o = "PlateEvent"
        kw = {
            k: _field(o, d, k)
            for k in (
                "event_id",
                "camera_id",
                "site",
                "track_id",
                "plate",
                "plate_raw",
                "confidence",
                "sightings",
                "provisional",
            )
        }
        for k in ("first_seen", "last_seen", "frame_ts"):
            kw[k] = _avro_ts(o, k, _field(o, d, k))
        for k in ("region", "crop_key", "crop_url"):
            kw[k] = d.get(k)
        vbox = d.get("vehicle_bbox")
        vehicle = Vehicle(
            None, None if vbox is None else _box(o, "vehicle_bbox", vbox),
            *(d.get(k) for k in _VEHICLE_TEXT),
        )  # fmt: skip
        kw["vehicle"] = None if vehicle == Vehicle() else vehicle
        kw["no_plate"] = d.get("no_plate", False)
        return cls(**kw)

    def to_avro(self) -> dict[str, Any]:
        """The Avro ``PlateEvent`` dict (datetimes for timestamp-millis fields)."""
        v = self.vehicle
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "site": self.site,
            "track_id": self.track_id,
            "plate": self.plate,
            "plate_raw": self.plate_raw,
            "confidence": self.confidence,
            "region": self.region,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "frame_ts": self.frame_ts,
            "sightings": self.sightings,
            "crop_key": self.crop_key,
            "crop_url": self.crop_url,
            "provisional": self.provisional,
            "vehicle_type": v.type if v else None,
            "vehicle_colour": v.colour if v else None,
            "vehicle_make": v.make if v else None,
            "vehicle_model": v.model if v else None,
            "vehicle_bbox": v.bbox.to_avro() if v and v.bbox else None,
            "no_plate": self.no_plate,
        }


@dataclass(slots=True, frozen=True)
class WatchlistEntry:
    """One watchlist entry (a row of ``watchlist_entries`` joined with its ``watchlists`` row).

    ``pattern`` is a plate for ``exact``/``fuzzy`` (normalised when indexed) or a Python
    regular expression matched against the whole normalised plate for ``regex``.
    ``max_distance`` is the confusion-aware edit distance a ``fuzzy`` entry tolerates.
    """

    entry_id: int
    watchlist_id: int
    watchlist: str
    pattern: str
    match_type: MatchType
    max_distance: int = 1
    severity: str = "medium"
    channels: tuple[str, ...] = ()
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        o = "WatchlistEntry"
        _int(o, "entry_id", self.entry_id)
        _int(o, "watchlist_id", self.watchlist_id)
        _str(o, "watchlist", self.watchlist)
        _str(o, "pattern", self.pattern)
        if self.match_type not in _MATCH_TYPES:
            raise RecordError(f"{o}.match_type must be one of {_MATCH_TYPES}, got {self.match_type!r}")
        _int(o, "max_distance", self.max_distance, minimum=0)
        _str(o, "severity", self.severity)
        if isinstance(self.channels, str) or not isinstance(self.channels, Iterable):
            raise RecordError(f"{o}.channels must be a sequence of str, got {self.channels!r}")
        channels = tuple(self.channels)
        for c in channels:
            _str(o, "channels[]", c)
        _set(self, "channels", channels)
        _set(self, "expires_at", _opt_utc(o, "expires_at", self.expires_at))
        if self.match_type == "regex":
            try:
                compile_plate_regex(self.pattern)
            except PatternError as exc:
                raise RecordError(
                    f"{o}.pattern {self.pattern[:80]!r} (entry {self.entry_id}) is not a valid regex: {exc}"
                ) from exc

    def expired(self, now: datetime) -> bool:
        """True when the entry has an expiry at or before ``now``."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(slots=True, frozen=True)
class WatchlistHit:
    """A plate event that matched a watchlist entry (Avro ``io.alpr.alerts.WatchlistAlert``)."""

    event: PlateEvent
    entry: WatchlistEntry
    distance: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.event, PlateEvent):
            raise RecordError(f"WatchlistHit.event must be a PlateEvent, got {type(self.event).__name__}")
        if not isinstance(self.entry, WatchlistEntry):
            raise RecordError(f"WatchlistHit.entry must be a WatchlistEntry, got {type(self.entry).__name__}")
        _int("WatchlistHit", "distance", self.distance, minimum=0)

    @property
    def alert_id(self) -> str:
        """uuid5 of event id and entry id: an event update re-raises the same alert id."""
        return str(uuid.uuid5(ALPR_NAMESPACE, f"watchlist-alert\x1f{self.event.event_id}\x1f{self.entry.entry_id}"))

    @property
    def severity(self) -> str:
        """The entry's severity."""
        return self.entry.severity

    def to_avro(self) -> dict[str, Any]:
        """The Avro ``WatchlistAlert`` dict; ``observed_at`` is the frame time of the best read."""
        return {
            "alert_id": self.alert_id,
            "event_id": self.event.event_id,
            "watchlist": self.entry.watchlist,
            "entry_id": self.entry.entry_id,
            "pattern": self.entry.pattern,
            "match_type": self.entry.match_type.upper(),
            "distance": self.distance,
            "severity": self.entry.severity,
            "plate": self.event.plate,
            "camera_id": self.event.camera_id,
            "site": self.event.site,
            "observed_at": self.event.frame_ts,
            "crop_url": self.event.crop_url,
            "channels": list(self.entry.channels),
        }


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A message the flow could not process (Avro ``io.alpr.common.DeadLetter``).

    ``step`` names the flow step that failed, ``reason`` says why in words, ``error_type``
    is the exception class name; ``key``/``value`` are the original bytes, kept unchanged.
    """

    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    step: str
    reason: str
    error_type: str
    ts: datetime

    def __post_init__(self) -> None:
        o = "DeadLetter"
        _str(o, "source_topic", self.source_topic, empty=True)
        _int(o, "partition", self.partition, minimum=-1)
        _int(o, "offset", self.offset, minimum=-1)
        for name in ("key", "value"):
            v = getattr(self, name)
            if isinstance(v, bytearray | memoryview):
                _set(self, name, bytes(v))
            elif v is not None and not isinstance(v, bytes):
                raise RecordError(f"{o}.{name} must be bytes or None, got {type(v).__name__}")
        _str(o, "step", self.step)
        _str(o, "reason", self.reason, empty=True)
        _str(o, "error_type", self.error_type, empty=True)
        _set(self, "ts", _utc(o, "ts", self.ts))

    @classmethod
    def of(
        cls,
        step: str,
        reason: str,
        error_type: str,
        ts: datetime,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        source_topic: str | None = "",
        partition: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter:
        """The dead letter of ``step``; a topic, partition or offset not known (None, or a negative
        offset) is ``""`` / ``-1``."""
        return cls(
            source_topic=source_topic or "",
            partition=-1 if partition is None else partition,
            offset=-1 if offset is None or offset < 0 else offset,
            key=key,
            value=value,
            step=step,
            reason=reason,
            error_type=error_type,
            ts=ts,
        )

    def to_avro(self) -> dict[str, Any]:
        """The Avro ``DeadLetter`` dict."""
        return {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "step": self.step,
            "reason": self.reason,
            "error_type": self.error_type,
            "ts": self.ts,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> DeadLetter:
        """Build from a decoded Avro ``DeadLetter``."""
        o = "DeadLetter"
        kw = {k: _field(o, d, k) for k in ("source_topic", "partition", "offset", "step", "reason", "error_type")}
        return cls(key=d.get("key"), value=d.get("value"), ts=_avro_ts(o, "ts", _field(o, d, "ts")), **kw)


#: Where a step or sink hands the dead letters it makes (e.g. a Kafka publisher).
DeadLetterFn = Callable[[DeadLetter], None]
