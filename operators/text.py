"""Hygiene of strings that come from outside: one check, used at every edge of the system.

:func:`check_text` is the rule: a string is refused when it is longer than its bound or holds a
character that is not printable (control characters such as NUL or newline, format characters
such as bidirectional overrides, lone surrogates, private-use or unassigned code points), so
that no id or name can break an HTTP header, a log line, a database index or a CSV cell
downstream. Free text may be ``multiline`` (tabs, newlines and any kind of space are allowed).
The message names the field and the bound, never the (possibly huge) value.

:func:`check_crop` applies it to the strings and sizes of a decoded
:class:`~operators.records.PlateCrop` with the bounds of ``config.limits.LimitSettings``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from operators.records import PlateCrop, RecordError

if TYPE_CHECKING:
    from config.limits import LimitSettings

__all__ = ["TextError", "check_crop", "check_text", "one_line", "shorten"]

_MULTILINE_OK = frozenset("\t\n\r")


class TextError(RecordError):
    """A string from outside is too long or holds a character it may not."""


def check_text(value: object, name: str, max_chars: int, *, multiline: bool = False) -> str:
    """``value`` unchanged when it is a string of at most ``max_chars`` printable characters.

    Raises :class:`TextError` naming ``name``, the bound and the first bad character otherwise.
    """
    if type(value) is not str:
        raise TextError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise TextError(f"{name} is {len(value)} characters long; at most {max_chars} are allowed")
    if value.isprintable():  # C-speed common case
        return value
    for i, ch in enumerate(value):
        if ch.isprintable() or (multiline and (ch in _MULTILINE_OK or ch.isspace())):
            continue
        raise TextError(
            f"{name} holds the non-printable character U+{ord(ch):04X} at position {i}"
            " (control, format, surrogate or unassigned characters are refused)"
        )
    return value


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters with a note of how much was cut (for our own messages)."""
    if len(text) <= max_chars:
        return text
    note = f"... [{len(text) - max_chars} more characters cut]"
    return text[: max(0, max_chars - len(note))] + note


def one_line(error: object, max_chars: int = 300) -> str:
    """The first line of an error's message, at most ``max_chars`` characters: a log line stays one
    line (an object-store error printed a 100-line dump per failed upload)."""
    lines = str(error).strip().splitlines()
    return shorten(lines[0] if lines else type(error).__name__, max_chars)


def check_crop(crop: PlateCrop, limits: LimitSettings, now: datetime) -> PlateCrop:
    """``crop`` when its strings, image size and frame time are within ``limits`` at ``now``.

    Raises :class:`TextError` (a :class:`RecordError`) naming the field otherwise.
    """
    ids = limits.id_chars
    check_text(crop.camera_id, "PlateCrop.camera_id", ids)
    check_text(crop.site, "PlateCrop.site", ids)
    check_text(crop.track_id, "PlateCrop.track_id", ids)
    check_text(crop.crop_id, "PlateCrop.crop_id", limits.crop_id_chars)
    check_text(crop.image_format, "PlateCrop.image_format", limits.image_format_chars)
    if crop.vehicle_track_id is not None:
        check_text(crop.vehicle_track_id, "PlateCrop.vehicle_track_id", ids)
    if len(crop.image) > limits.image_bytes:
        raise TextError(f"PlateCrop.image is {len(crop.image)} bytes; at most {limits.image_bytes} are allowed")
    ahead = crop.frame_ts - now
    if ahead > timedelta(seconds=limits.max_future_s):
        raise TextError(
            f"PlateCrop.frame_ts {crop.frame_ts.isoformat()} is {ahead.total_seconds():.0f} s ahead of the"
            f" flow's clock; at most {limits.max_future_s:g} s are allowed (limits.max_future_s)"
        )
    return crop
