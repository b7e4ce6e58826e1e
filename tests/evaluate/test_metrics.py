"""Benchmark scoring: keys, wildcards, edit distance, IoU, summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from evaluate.metrics import (
    char_accuracy,
    edit_distance,
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
