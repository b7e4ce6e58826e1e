"""Synthetic plate reads for scale tests and benchmarks, generated inside the server.

Rows come from ``generate_series`` in one ``INSERT ... SELECT`` per slice (no row crosses the
wire), so 10 million reads load at the server's insert speed. Everything is a pure function of
the row number and :class:`ReadSpec`: the same spec gives the same rows on any server, and
:func:`plate_of` says which plate row ``i`` carries without asking the database.

Row ``i`` (1..rows) is at ``end - span * (rows - i) / rows`` (time ascending with ``i``, so a
slice fills one chunk / partition after another), on camera ``h % cameras`` (site
``camera % sites``), with plate number ``(h >> 8) % plates``, where ``h`` is a multiplicative
hash of ``i``. Plate numbers map one-to-one onto UK-style plates (AA00AAA) through a
multiplication modulo the plate space, so neighbouring numbers do not share prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PLATE_SPACE = 26 * 26 * 100 * 26 * 26 * 26  # AA 00 AAA
_SCRAMBLE = 48271  # prime, not a factor of PLATE_SPACE: k -> k * _SCRAMBLE mod PLATE_SPACE is a bijection
_HASH = 2654435761  # Knuth's multiplicative hash constant
_HASH_MOD = 2**32


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """What to generate: ``rows`` reads over ``span`` ending at ``end`` (tz-aware)."""

    rows: int
    end: datetime
    span: timedelta = timedelta(days=90)
    cameras: int = 200
    sites: int = 20
    plates: int = 1_000_000

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"ReadSpec.rows must be >= 1, got {self.rows}")
        if self.end.tzinfo is None:
            raise ValueError(f"ReadSpec.end must carry a time zone, got {self.end.isoformat()}")
        if self.span <= timedelta(0):
            raise ValueError(f"ReadSpec.span must be positive, got {self.span}")
        if not 1 <= self.sites <= self.cameras:
            raise ValueError(f"ReadSpec needs 1 <= sites <= cameras, got {self.sites} and {self.cameras}")
        if not 1 <= self.plates <= PLATE_SPACE:
            raise ValueError(f"ReadSpec.plates must be 1..{PLATE_SPACE}, got {self.plates}")

    @property
    def start(self) -> datetime:
        """Time of the (hypothetical) row 0; row 1 is one step after it."""
        return self.end - self.span


def _hash(i: int) -> int:
    return (i * _HASH) % _HASH_MOD


def plate_number(i: int, spec: ReadSpec) -> int:
    """The plate number of row ``i``."""
    return (_hash(i) >> 8) % spec.plates


def plate_text(k: int) -> str:
    """The plate of plate number ``k``: AA00AAA.

    >>> plate_text(0)
    'AA00AAA'
    """
    s = (k * _SCRAMBLE) % PLATE_SPACE
    return (
        LETTERS[s % 26]
        + LETTERS[s // 26 % 26]
        + f"{s // 676 % 100:02d}"
        + LETTERS[s // 67_600 % 26]
        + LETTERS[s // 1_757_600 % 26]
        + LETTERS[s // 45_697_600 % 26]
    )


def plate_of(i: int, spec: ReadSpec) -> str:
    """The plate of row ``i``."""
    return plate_text(plate_number(i, spec))


def camera_of(i: int, spec: ReadSpec) -> str:
    """The camera id of row ``i``."""
    return f"cam-{_hash(i) % spec.cameras:03d}"


def time_of(i: int, spec: ReadSpec) -> datetime:
    """first_seen of row ``i``."""
    return spec.end - spec.span * ((spec.rows - i) / spec.rows)


# The plate expression mirrors plate_text(); %(...)s are parameters, {k} the plate number.
_PLATE_SQL = """(
    substr(%(letters)s, (s %% 26)::int + 1, 1) || substr(%(letters)s, (s / 26 %% 26)::int + 1, 1)
    || lpad((s / 676 %% 100)::text, 2, '0')
    || substr(%(letters)s, (s / 67600 %% 26)::int + 1, 1)
    || substr(%(letters)s, (s / 1757600 %% 26)::int + 1, 1)
    || substr(%(letters)s, (s / 45697600 %% 26)::int + 1, 1))"""

INSERT_SQL = f"""
INSERT INTO plate_events (event_id, first_seen, last_seen, frame_ts, site, camera_id, track_id, plate,
                          plate_raw, region, confidence, sightings, crop_key, inserted_at, updated_at)
SELECT md5('synthetic-' || i)::uuid, t, t + interval '4 seconds', t + interval '2 seconds',
       'site-' || lpad((cam %% %(sites)s)::text, 2, '0'), 'cam-' || lpad(cam::text, 3, '0'),
       'trk-' || i, p, p, 'GB', 0.5 + (h %% 500) / 1000.0, 1 + h %% 7, 'crops/' || i || '.jpg', t, t
  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
 CROSS JOIN LATERAL (SELECT (i * {_HASH}) %% {_HASH_MOD} AS h) AS hashed
 CROSS JOIN LATERAL (SELECT %(end)s::timestamptz - %(span)s::interval * ((%(rows)s - i)::float8 / %(rows)s) AS t,
                            h %% %(cameras)s AS cam,
                            ((h >> 8) %% %(plates)s) * {_SCRAMBLE} %% {PLATE_SPACE} AS s) AS drawn
 CROSS JOIN LATERAL (SELECT {_PLATE_SQL} AS p) AS plate
"""


def insert_reads(conn: psycopg.Connection, spec: ReadSpec, lo: int = 1, hi: int | None = None) -> int:
    """Insert rows ``lo..hi`` (default: all) of ``spec`` into ``plate_events``; return the count."""
    hi = spec.rows if hi is None else hi
    if not 1 <= lo <= hi <= spec.rows:
        raise ValueError(f"insert_reads: need 1 <= lo <= hi <= {spec.rows}, got {lo}..{hi}")
    cur = conn.execute(
        INSERT_SQL,
        {
            "lo": lo,
            "hi": hi,
            "rows": spec.rows,
            "end": spec.end,
            "span": spec.span,
            "cameras": spec.cameras,
            "sites": spec.sites,
            "plates": spec.plates,
            "letters": LETTERS,
        },
    )
    return cur.rowcount
