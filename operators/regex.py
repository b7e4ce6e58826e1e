"""Watchlist regular expressions on a linear-time engine (RE2), bounded in size.

Python's ``re`` backtracks: ``(.*.*.*.*.*.*.*)*X`` against a ten-character plate ran for over
ten minutes in the flow's matching thread. RE2 (``google-re2``) matches in time linear in the
plate for any pattern it accepts, with bounded memory. What it cannot run in linear time
(backreferences, lookarounds, repetition counts above 1000) it refuses, and so do we, with the
reason; a pattern whose compiled program is larger than ``max_program_size`` instructions is
refused as too complex (``limits.regex_program_size``).
"""

from __future__ import annotations

from typing import Any

import re2

__all__ = ["DEFAULT_PROGRAM_SIZE", "PatternError", "compile_plate_regex"]

#: Largest compiled program accepted by default (``limits.regex_program_size``).
DEFAULT_PROGRAM_SIZE = 2000
_MAX_MEM = 8 << 20  # bytes of RE2 state per pattern


class PatternError(ValueError):
    """A regular expression cannot be run with a time and memory bound."""


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # errors are raised to the caller, not printed by RE2
    options.max_mem = _MAX_MEM
    return options


def _shown(pattern: str) -> str:
    return repr(pattern) if len(pattern) <= 80 else repr(pattern[:77]) + "..."


def compile_plate_regex(pattern: str, *, max_program_size: int = DEFAULT_PROGRAM_SIZE) -> Any:
    """``pattern`` compiled by RE2, case-insensitive; :class:`PatternError` says why it cannot be."""
    try:
        rx = re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"regex {_shown(pattern)} is not supported by the linear-time engine (RE2): {reason};"
            " backreferences, lookarounds and repetition counts above 1000 cannot be bounded"
        ) from None
    if rx.programsize > max_program_size:
        raise PatternError(
            f"regex {_shown(pattern)} is too complex: {rx.programsize} instructions compiled, at most"
            f" {max_program_size} allowed (limits.regex_program_size)"
        )
    return rx
