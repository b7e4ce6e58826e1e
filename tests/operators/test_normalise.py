"""Normalising: compact text, positional confusion fixes, confusion-aware distance."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from config.flow import PlateRulesSettings
from operators.normalise import CLASS_CHARS, Confusions, compact, fold_confusions, plate_distance

DEFAULT = Confusions(PlateRulesSettings().to_digit, PlateRulesSettings().to_letter)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("-·.", ""),
        ("abc123", "ABC123"),
        (" AB-12 3 ", "AB123"),
        ("ab_12\n3", "AB123"),
        ("МÜ 1234", "MU1234"),  # Cyrillic M, umlaut
        ("ΑΒΕ 123", "ABE123"),  # Greek capitals
        ("straße 1", "STRASSE1"),
        ("①②", "12"),  # NFKD folds compatibility digits
        ("京A·12345", "A12345"),
    ],
)
def test_compact(text, expected):
    assert compact(text) == expected


@settings(deadline=None)
@given(st.text())
def test_compact_is_idempotent_and_canonical(text):
    out = compact(text)
    assert compact(out) == out
    assert all(c in CLASS_CHARS["A"] for c in out)


@pytest.mark.parametrize(
    ("plate", "classes", "expected"),
    [
        ("", "", ("", 0)),
        ("AB", "LLL", None),  # length differs
        ("1234BCD", "NNNNCCC", ("1234BCD", 0)),
        ("I234BCD", "NNNNCCC", ("1234BCD", 1)),
        ("12O4BCD", "NNNNCCC", ("1204BCD", 1)),
        ("1234B0D", "NNNNCCC", None),  # 0 -> O, but O is a vowel: not a Spanish letter
        ("1234BC8", "NNNNCCC", ("1234BCB", 1)),
        ("7A8CI23", "NLLLNNN", ("7ABC123", 2)),
        ("ABC1234", "AAAAAAA", ("ABC1234", 0)),
        ("AB?1234", "LLLNNNN", None),
        ("ABCX234", "LLLNNNN", None),  # X has no digit look-alike
    ],
)
def test_confusion_fix(plate, classes, expected):
    assert DEFAULT.fix(plate, classes) == expected


def test_confusion_fix_respects_max_fixes():
    assert DEFAULT.fix("7A8CI23", "NLLLNNN", max_fixes=1) is None
    assert DEFAULT.fix("7ABCI23", "NLLLNNN", max_fixes=1) == ("7ABC123", 1)


def test_confusions_reject_rules_of_the_wrong_kind():
    with pytest.raises(ValueError, match=r"Confusions.to_digit: bad rule '0' -> 'O'"):
        Confusions({"0": "O"}, {})


@settings(deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=8), st.data())
def test_confusion_fix_is_idempotent_and_fits_the_classes(plate, data):
    classes = data.draw(st.text(alphabet="LNCA", min_size=len(plate), max_size=len(plate)))
    fitted = DEFAULT.fix(plate, classes)
    if fitted is not None:
        fixed, fixes = fitted
        assert all(c in CLASS_CHARS[k] for c, k in zip(fixed, classes, strict=True))
        assert fixes == sum(a != b for a, b in zip(plate, fixed, strict=True))
        assert DEFAULT.fix(fixed, classes) == (fixed, 0)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("", "", 0.0),
        ("ABC123", "ABC123", 0.0),
        ("ABC123", "A8C123", 0.5),  # B/8
        ("ABC123", "ABC12", 1.0),  # a real deletion
        ("ABC123", "XBC123", 1.0),
        ("OO1", "001", 1.0),  # two confusions
        ("AB0123", "ABO123", 0.5),
        ("ABC123", "XYZ789", 6.0),
    ],
)
def test_plate_distance(a, b, expected):
    assert plate_distance(a, b) == expected
    assert plate_distance(b, a) == expected


def test_plate_distance_cutoff_and_cost():
    assert plate_distance("ABC123", "XYZ789", cutoff=1) == 2.0  # above the cutoff: cutoff + 1
    assert plate_distance("ABC123", "A8C123", confusion_cost=0.0) == 0.0
    assert plate_distance("ABC123", "A8C123", confusion_cost=1.0) == 1.0


@settings(deadline=None)
@given(st.text(alphabet="ABO0I1S5Z2B8X", max_size=8), st.text(alphabet="ABO0I1S5Z2B8X", max_size=8))
def test_plate_distance_bounds(a, b):
    d = plate_distance(a, b)
    assert d == plate_distance(b, a)
    assert (d == 0) == (a == b)
    assert Levenshtein.distance(fold_confusions(a), fold_confusions(b)) <= d <= Levenshtein.distance(a, b)
