"""Benchmark scoring: keys, wildcards, edit distance, IoU, summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from evaluate.metrics import (
    char_accuracy,
    edit_distance,
    error_class,
    iou,
    is_exact,
    label_key,
    plate_key,
    score,
    summarise,
)

plates = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=10)


@pytest.mark.parametrize(
    ("text", "key"),
    [("", ""), ("abc-123", "ABC123"), (" 7 ab c·12 ", "7ABC12"), ("??", ""), ("ÄB1", "B1")],
)
def test_plate_key(text, key):
    assert plate_key(text) == key


def test_label_key_keeps_wildcards():
    assert label_key("07?6?yr") == "07?6?YR"


@pytest.mark.parametrize(
    ("read", "label", "exact"),
    [
        ("", "", True),
        ("ABC123", "abc-123", True),
        ("ABC 123", "ABC123", True),
        ("ABC12", "ABC123", False),
        ("ABC1234", "ABC123", False),
        ("O7X6AYR", "07?6?YR", False),  # O is not 0
        ("07X6AYR", "07?6?YR", True),  # masked characters read as anything
        ("076YR", "07?6?YR", True),  # ... or not read at all
        ("07X6YR", "07?6?YR", True),
        ("076YRX", "07?6?YR", False),
        ("", "??", True),
    ],
)
def test_is_exact(read, label, exact):
    assert is_exact(read, label) is exact


@pytest.mark.parametrize(
    ("read", "label", "acc"),
    [
        ("", "", 1.0),
        ("", "ABC", 0.0),
        ("ABC", "", 0.0),
        ("ABC123", "ABC123", 1.0),
        ("ABC124", "ABC123", 5 / 6),
        ("AB123", "ABC123", 5 / 6),
        ("8977CY", "97?7?CY", 5 / 6),  # one extra 8; the wildcards absorb nothing else
        ("076YR", "07?6?YR", 1.0),
    ],
)
def test_char_accuracy(read, label, acc):
    assert char_accuracy(read, label) == pytest.approx(acc)


@given(plates, plates)
def test_edit_distance_without_wildcards_is_levenshtein(a, b):
    assert edit_distance(a, b) == Levenshtein.distance(a, b)


@given(plates, plates)
def test_char_accuracy_is_bounded_and_one_only_for_exact(a, b):
    acc = char_accuracy(a, b)
    assert 0.0 <= acc <= 1.0
    assert (acc == 1.0) == is_exact(a, b)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),
    ],
)
def test_iou(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)


def test_score_and_summary():
    results = [
        score("a.jpg", "ABC123", "abc 123", 0.9, 0.8, 10.0),
        score("b.jpg", "XYZ9", "XY29", 0.5, 0.4, 30.0),  # IoU 0.4 is not > 0.4
    ]
    assert results[0].exact and results[0].detected and results[0].read == "ABC123"
    assert not results[1].exact and not results[1].detected
    summary = summarise(results)
    assert summary.as_dict() == {
        "n": 2,
        "detection_recall": 0.5,
        "exact_accuracy": 0.5,
        "char_accuracy": 0.875,
        "ms_per_image": 20.0,
    }
    assert summarise([]).n == 0


@pytest.mark.parametrize(
    ("read", "label", "detected", "error"),
    [
        ("ABC123", "ABC124", False, "undetected"),
        ("", "ABC123", True, "not_read"),
        ("LYTD483", "4YTD483", True, "look_alike"),
        ("0KM2371", "OKM2371", True, "look_alike"),
        ("3VMT947SHARKS", "3VMT947", True, "extra_text"),
        ("MRK612AL", "RK612AL", True, "extra_text"),
        ("BJL833", "BJL3833", True, "missing_character"),
        ("XYZ999", "ABC123", True, "misread"),
        ("07X6AYR", "07?6?YR", True, "look_alike"),  # masked characters match anything
    ],
)
def test_error_class(read, label, detected, error):
    assert error_class(read, label, detected) == error


def test_scored_reads_carry_their_error_class_and_exact_ones_none():
    assert score("a", "ABC123", "ABC123", 0.9, 1.0, 1.0).error == ""
    assert score("a", "ABC123", "ABC12", 0.9, 1.0, 1.0).error == "missing_character"
    assert score("a", "ABC123", "XBC123", 0.9, 0.1, 1.0).error == "undetected"


def test_summary_region_accuracy_counts_countries_of_labelled_regions_only():
    results = [
        score("a", "7ABC123", "7ABC123", 0.9, 1.0, 1.0, region="US-CA", label_region="US-CA"),
        score("b", "ABC1234", "ABC1234", 0.9, 1.0, 1.0, region="US", label_region="US-NY"),  # country right
        score("c", "1234BCD", "1234BCD", 0.9, 1.0, 1.0, region=None, label_region="ES"),  # no region: wrong
        score("d", "AB123CD", "AB123CD", 0.9, 1.0, 1.0, region="FR"),  # label names no region
    ]
    summary = summarise(results)
    assert summary.region_n == 3
    assert summary.region_accuracy == pytest.approx(2 / 3)
    assert summary.as_dict()["region_accuracy"] == pytest.approx(0.6667)
    assert "region_accuracy" not in summarise(results[3:]).as_dict()


def test_breakdown_says_which_region_reads_are_unknown_and_which_are_another_country():
    results = [
        score("a", "7ABC123", "7ABC123", 0.9, 1.0, 1.0, region="US-CA", label_region="US"),
        score("b", "12ABC3", "12ABC3", 0.9, 1.0, 1.0, region="US", label_region="NL"),
        score("c", "1ABC23", "1ABC23", 0.9, 1.0, 1.0, region="US-MD", label_region="NL"),
        score("d", "AB123C", "AB123C", 0.9, 1.0, 1.0, region=None, label_region="NL"),
        score("e", "AB123CD", "AB123CD", 0.9, 1.0, 1.0, region="FR"),  # label names no region
    ]
    assert summarise(results).breakdown()["regions"] == {"right": 1, "none": 1, "wrong": {"US": 2}}
    assert "regions" not in summarise(results[4:]).breakdown()


def test_breakdown_counts_error_classes_and_formats():
    results = [
        score("a", "4YTD483", "LYTD483", 0.9, 1.0, 1.0, label_format="US-CA"),
        score("b", "4ABC123", "4ABC123", 0.9, 1.0, 1.0, label_format="US-CA"),
        score("c", "ABC", "", 0.0, 1.0, 1.0),
    ]
    out = summarise(results).breakdown()
    assert out["errors"]["look_alike"] == 1 and out["errors"]["not_read"] == 1
    assert out["formats"] == {"US-CA": [1, 2], "-": [0, 1]}
