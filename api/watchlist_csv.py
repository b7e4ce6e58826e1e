"""Watchlist entries as CSV: parse (every problem reported with its line number) and write.

Columns (header required, order free): ``pattern`` (required), ``match_type`` (exact | regex |
fuzzy, default exact), ``max_distance`` (default 1), ``severity``, ``note``, ``expires_at``
(ISO 8601 with a time zone). Exact and fuzzy patterns are normalised like plates; a regex
must compile on the linear-time engine within the complexity bound (:mod:`operators.regex`);
every string is bounded and may hold no control characters (:func:`operators.text.check_text`,
``limits``). Nothing is imported when any line is bad.

Export neutralises formulas: a cell that a spreadsheet would run (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is written with a leading ``'``, which spreadsheets
show as text; the import removes that quote again, so an export reads back as it was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from config.limits import LimitSettings
from operators.normalise import compact
from operators.regex import PatternError, compile_plate_regex
from operators.text import check_text

COLUMNS = ("pattern", "match_type", "max_distance", "severity", "note", "expires_at")
MATCH_TYPES = ("exact", "regex", "fuzzy")
MAX_LINES = 100_000
#: First characters that make a spreadsheet cell a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DEFAULT_LIMITS = LimitSettings()


@dataclass(frozen=True, slots=True)
class EntryInput:
    """A validated watchlist entry, ready to insert."""

    pattern: str
    match_type: str = "exact"
    max_distance: int = 1
    severity: str | None = None
    note: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LineError:
    """A problem on one line of the CSV (line 1 is the header)."""

    line: int
    message: str


def validate_entry(
    pattern: str,
    match_type: str = "exact",
    max_distance: int = 1,
    severity: str | None = None,
    note: str | None = None,
    expires_at: datetime | None = None,
    *,
    limits: LimitSettings = _DEFAULT_LIMITS,
) -> EntryInput:
    """An :class:`EntryInput` from raw values; ``ValueError`` names the bad value.

    The one check of entries for the API, the CLI and CSV imports: strings within ``limits``
    and printable, regexes bounded (:func:`operators.regex.compile_plate_regex`).
    """
    check_text(pattern, "pattern", limits.pattern_chars)
    if severity is not None:
        check_text(severity, "severity", limits.name_chars)
    if note is not None:
        check_text(note, "note", limits.text_chars, multiline=True)
    if match_type not in MATCH_TYPES:
        raise ValueError(f"match_type must be one of {', '.join(MATCH_TYPES)}, got {match_type!r}")
    if not 0 <= max_distance <= 3:
        raise ValueError(f"max_distance must be 0..3, got {max_distance}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError(f"expires_at must carry a time zone, got {expires_at.isoformat()}")
    if match_type == "regex":
        if not pattern:
            raise ValueError("pattern is empty")
        try:
            compile_plate_regex(pattern, max_program_size=limits.regex_program_size)
        except PatternError as exc:
            raise ValueError(f"pattern is not a usable regular expression: {exc}") from exc
    else:
        normalised = compact(pattern)
        if not normalised:
            raise ValueError(f"pattern {pattern!r} has no letters or digits")
        pattern = normalised
    return EntryInput(pattern, match_type, max_distance, severity or None, note or None, expires_at)


def _formula_safe(cell: str) -> str:
    """``cell`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _unquoted(cell: str) -> str:
    """:func:`_formula_safe` undone (the import of an export)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def parse_csv(text: str, *, limits: LimitSettings = _DEFAULT_LIMITS) -> tuple[list[EntryInput], list[LineError]]:
    """Entries of a CSV document and the errors, by line; entries are only usable when no errors."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [LineError(1, "empty file: a header line with a 'pattern' column is required")]
    except csv.Error as exc:
        return [], [LineError(1, f"unreadable CSV: {exc}")]
    names = [h.strip().lower() for h in header]
    errors: list[LineError] = []
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        errors.append(LineError(1, f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}"))
    if "pattern" not in names:
        errors.append(LineError(1, "header has no 'pattern' column"))
    if len(set(names)) != len(names):
        errors.append(LineError(1, "a column is named twice"))
    if errors:
        return [], errors
    entries: list[EntryInput] = []
    try:
        for row in reader:
            line = reader.line_num
            if line > MAX_LINES:
                errors.append(LineError(line, f"too many lines (at most {MAX_LINES})"))
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                errors.append(LineError(line, f"expected {len(names)} fields, got {len(row)}"))
                continue
            values = {n: _unquoted(cell.strip()) for n, cell in zip(names, row, strict=True)}
            try:
                entries.append(_entry(values, limits))
            except ValueError as exc:
                errors.append(LineError(line, str(exc)))
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"unreadable CSV: {exc}"))
    return entries, errors


def _entry(values: dict[str, str], limits: LimitSettings) -> EntryInput:
    distance_text = values.get("max_distance") or "1"
    try:
        distance = int(distance_text)
    except ValueError:
        raise ValueError(f"max_distance must be an integer, got {distance_text!r}") from None
    expires = None
    if values.get("expires_at"):
        try:
            expires = datetime.fromisoformat(values["expires_at"])
        except ValueError:
            raise ValueError(f"expires_at is not an ISO 8601 time: {values['expires_at']!r}") from None
    return validate_entry(
        values["pattern"],
        values.get("match_type") or "exact",
        distance,
        values.get("severity"),
        values.get("note"),
        expires,
        limits=limits,
    )


def write_csv(entries: Iterable[EntryInput]) -> str:
    """CSV text (with header) that :func:`parse_csv` reads back to the same entries."""
    out = io.StringIO()
    # CRLF (RFC 4180): a cell holding a carriage return is quoted too (with "\n" alone it was not,
    # a CR in a note split its row in two).
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                _formula_safe(e.pattern),
                e.match_type,
                e.max_distance,
                _formula_safe(e.severity or ""),
                _formula_safe(e.note or ""),
                e.expires_at.isoformat() if e.expires_at else "",
            ]
        )
    return out.getvalue()
