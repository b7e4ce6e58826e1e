"""Watchlist matching: exact, regex, fuzzy (confusion-aware), expiry, the compiled index."""

from __future__ import annotations

import random
import string
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.normalise import plate_distance
from operators.records import PlateEvent, PlateRead, WatchlistEntry
from operators.watchlist import Watchlist, match
from tests.operators.builders import T0, make_track_read


def entry(entry_id: int, pattern: str, match_type: str = "exact", max_distance: int = 1, **kw) -> WatchlistEntry:
    return WatchlistEntry(entry_id, 1, "stolen", pattern, match_type, max_distance=max_distance, **kw)


ENTRIES = [
    entry(1, "ABC-123"),
    entry(2, "^XYZ\\d{3}$", "regex"),
    entry(3, "ABC12", "regex"),  # full match only: never matches ABC123
    entry(4, "DEF456", "fuzzy", 1),
    entry(5, "GHJ789", "fuzzy", 2),
    entry(6, "KLM000", "exact", expires_at=T0),
    entry(7, "NOP111", "fuzzy", 0),  # fuzzy with distance 0 is exact
    entry(8, "abc123", "fuzzy", 1),
    entry(9, "QRS22", "fuzzy", 3),  # beyond the indexed distance: scanned
]


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("", []),
        ("---", []),
        ("ABC123", [(1, 0), (8, 0)]),
        ("abc 123", [(1, 0), (8, 0)]),
        ("ABC12", [(3, 0), (8, 1)]),
        ("A8C123", [(8, 1)]),  # exact entries do not forgive confusions
        ("XYZ789", [(2, 0)]),
        ("xyz789", [(2, 0)]),
        ("XYZ7890", []),
        ("DEF456", [(4, 0)]),
        ("DEF45", [(4, 1)]),
        ("DEF4S6", [(4, 1)]),  # S/5 costs 0.5, reported rounded up
        ("D3F4S6", []),  # 1.5 > 1
        ("GH789", [(5, 1)]),
        ("GHJ7", [(5, 2)]),
        ("KLM000", []),  # expired at T0
        ("NOP111", [(7, 0)]),
        ("NOP11", []),
        ("QRS", [(9, 2)]),
        ("QRS22XY", [(9, 2)]),
    ],
)
def test_match(plate, expected):
    got = Watchlist(ENTRIES).match(plate, T0)
    assert [(e.entry_id, d) for e, d in got] == expected


def test_expiry_is_checked_against_now():
    wl = Watchlist(ENTRIES)
    assert [e.entry_id for e, _ in wl.match("KLM000", T0 - timedelta(seconds=1))] == [6]
    assert wl.match("KLM000", T0) == []


def test_one_off_match_and_hits():
    assert [e.entry_id for e, _ in match("XYZ123", ENTRIES, T0)] == [2]
    read = PlateRead(make_track_read("DEF45"), "DEF45", "DEF45", None, "US")
    ev = PlateEvent.from_read(read)
    (hit,) = Watchlist(ENTRIES).hits(ev, T0)
    assert (hit.entry.entry_id, hit.distance, hit.event) == (4, 1, ev)
    assert hit.to_avro()["match_type"] == "FUZZY"
    assert len(Watchlist(ENTRIES)) == len(ENTRIES)


def _random_plates(rnd: random.Random, n: int) -> list[str]:
    alphabet = string.ascii_uppercase + string.digits
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(5, 8))) for _ in range(n)]


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.text(alphabet="ABO0I1S58Z2X", min_size=2, max_size=8))
def test_index_agrees_with_a_linear_scan(rnd, plate):
    """The symmetric-delete index never misses a fuzzy match a brute-force scan finds."""
    plates = _random_plates(rnd, 200) + [plate[::-1], plate[:-1], plate + "X", plate.replace("O", "0")]
    entries = [entry(i, p, "fuzzy", rnd.randint(1, 3)) for i, p in enumerate(plates)]
    got = {(e.entry_id, d) for e, d in Watchlist(entries).match(plate, T0)}
    want = set()
    for e in entries:
        d = plate_distance(plate, e.pattern)
        if d <= e.max_distance:
            want.add((e.entry_id, -int(-d // 1)))
    assert got == want


# --- issue 12, defect 6: catastrophic regexes ------------------------------------------------

_MATCH_IN_CHILD = """
import sys
from datetime import UTC, datetime
from operators.records import WatchlistEntry
from operators.watchlist import Watchlist
w = Watchlist([WatchlistEntry(1, 1, "list", sys.argv[1], "regex")])
print(len(w.match(sys.argv[2], datetime(2026, 1, 1, tzinfo=UTC))))
"""


@pytest.mark.parametrize(
    ("pattern", "plate"),
    [("(.*.*.*.*.*.*.*)*X", "ABCDEFGHIJ"), ("(A+)+B", "A" * 40), ("(A|AA)*C", "A" * 60)],
)
def test_a_catastrophic_regex_matches_in_linear_time(pattern, plate):
    # With Python's backtracking engine these ran for minutes to hours, pinning the flow's thread.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _MATCH_IN_CHILD, pattern, plate], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout.strip() == "0", done.stderr


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(A)\\1", "not supported"),  # backreference: no linear-time engine can run it
        ("(?=A)B", "not supported"),  # lookahead
        ("A{2000}", "not supported"),
        ("A{999}B{999}C{999}", "too complex"),
        ("([", "not supported"),
    ],
)
def test_a_regex_that_cannot_be_bounded_is_refused_with_a_clear_error(pattern, message):
    from operators.records import RecordError

    with pytest.raises(RecordError, match=message):
        WatchlistEntry(1, 1, "list", pattern, "regex")


def test_regex_entries_still_match_case_insensitively_and_whole_plates():
    from datetime import UTC, datetime

    w = Watchlist([WatchlistEntry(1, 1, "list", "^ab[0-9]{3}$", "regex"), WatchlistEntry(2, 1, "l", "X.Z", "regex")])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert [e.entry_id for e, _ in w.match("AB123", at)] == [1]
    assert w.match("AB1234", at) == [] and w.match("XAZ9", at) == []
    assert [e.entry_id for e, _ in w.match("XYZ", at)] == [2]
