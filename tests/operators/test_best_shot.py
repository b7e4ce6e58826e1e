"""Best shot: bounded per-track buffer, close decisions in event time, character voting."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.best_shot import TrackBuffer, add, close_at, should_close, vote, vote_track
from operators.records import OcrRead
from tests.operators.builders import T0, make_crop, make_read


def buffer_of(qualities, keep=3, times=None) -> TrackBuffer:
    state = None
    for n, q in enumerate(qualities):
        state = add(state, make_crop(n, quality=q, t=None if times is None else times[n]), keep=keep)
    return state


# --- buffering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualities", "keep", "kept"),
    [
        ([0.5], 1, [0]),
        ([0.1, 0.9], 1, [1]),
        ([0.9, 0.1], 1, [0]),
        ([0.2, 0.2, 0.2], 2, [0, 1]),  # ties: earlier frame first
        ([0.1, 0.5, 0.3, 0.9, 0.2], 3, [3, 1, 2]),
        ([0.1, 0.5, 0.3], 5, [1, 2, 0]),
    ],
)
def test_buffer_keeps_the_best_crops(qualities, keep, kept):
    state = buffer_of(qualities, keep)
    assert [c.frame_index for c in state.crops] == kept
    assert state.n_crops == len(qualities)
    assert state.best.frame_index == kept[0]


def test_buffer_tracks_first_and_last_seen_out_of_order():
    state = buffer_of([0.5, 0.5, 0.5], times=[1.0, 0.5, 3.0])
    assert (state.first_seen, state.last_seen) == (T0 + timedelta(seconds=0.5), T0 + timedelta(seconds=3))


def test_add_never_mutates_and_pickles():
    one = buffer_of([0.5])
    two = add(one, make_crop(1, quality=0.9), keep=3)
    assert len(one.crops) == 1 and len(two.crops) == 2
    assert pickle.loads(pickle.dumps(two)) == two


def test_add_rejects_crops_of_another_track():
    with pytest.raises(ValueError, match="crop 'cam-1:run-2:0' is not of track 'cam-1:run-1'"):
        add(buffer_of([0.5]), make_crop(0, track_id="run-2"), keep=3)
    with pytest.raises(ValueError, match="keep must be >= 1"):
        add(None, make_crop(0), keep=0)


@settings(deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.integers(1, 6))
def test_buffer_is_bounded_and_holds_the_top_qualities(qualities, keep):
    state = buffer_of(qualities, keep)
    assert len(state.crops) == min(keep, len(qualities))
    assert sorted((c.quality for c in state.crops), reverse=True) == sorted(qualities, reverse=True)[:keep]


@pytest.mark.parametrize(
    ("now_s", "closed"),
    [
        (1.0, False),  # last crop at 1.0
        (2.99, False),
        (3.0, True),  # idle 2 s
        (100.0, True),
    ],
)
def test_should_close_on_idle_gap(now_s, closed):
    state = buffer_of([0.5, 0.5], times=[0.0, 1.0])
    assert should_close(state, T0 + timedelta(seconds=now_s), idle_s=2.0, max_s=30.0) is closed


def test_should_close_on_max_duration_even_when_busy():
    state = buffer_of([0.5] * 40, times=[i * 0.25 for i in range(40)])  # 0 .. 9.75 s, never idle
    assert close_at(state, idle_s=2.0, max_s=5.0) == T0 + timedelta(seconds=5)
    assert not should_close(state, T0 + timedelta(seconds=4.9), idle_s=2.0, max_s=5.0)
    assert should_close(state, T0 + timedelta(seconds=5), idle_s=2.0, max_s=5.0)


# --- voting ------------------------------------------------------------------------------

CROPS = [make_crop(n, quality=q) for n, q in enumerate([0.9, 0.8, 0.7, 0.6, 0.5])]


def reads(*texts_and_conf) -> list[OcrRead]:
    return [make_read(CROPS[i], t, c) for i, (t, c) in enumerate(texts_and_conf)]


@pytest.mark.parametrize(
    ("ballots", "text"),
    [
        ([], ""),  # no reads at all
        ([("", 0.0)], ""),
        ([("", 0.1), ("", 0.2), ("ABC123", 0.9)], "ABC123"),  # empty reads weigh little
        ([("ABC123", 0.9)], "ABC123"),
        ([("abc-123", 0.9)], "ABC123"),  # compacted before voting
        ([("ABC123", 0.9), ("A8C123", 0.6), ("ABC123", 0.5)], "ABC123"),
        ([("A8C123", 0.9), ("ABC123", 0.5), ("ABC128", 0.5)], "ABC123"),  # majority per position
        ([("ABC123", 0.9), ("ABC1234", 0.3), ("ABC1234", 0.3)], "ABC123"),  # length by weight
        ([("ABC123", 0.4), ("ABC1234", 0.9), ("XBC1234", 0.5)], "ABC1234"),  # off-by-one read aligned
    ],
)
def test_vote(ballots, text):
    out = vote(reads(*ballots), CROPS)
    assert out.text == text
    assert out.n_reads == len(ballots)
    assert out.n_crops == len(CROPS)
    assert 0.0 <= out.confidence <= 1.0
    assert len(out.char_confidences) == len(text)
    if not text:
        assert out.confidence == 0.0


def test_length_tie_goes_to_the_longer_read():
    same = [make_crop(n, quality=0.5) for n in range(2)]
    out = vote([make_read(same[0], "ABC123", 0.3), make_read(same[1], "ABC1234", 0.3)], same)
    assert out.text == "ABC1234"
    assert out.confidence == pytest.approx(0.5 * 0.3)  # half the weight voted for this length


def test_off_by_one_read_fixes_a_character():
    # Two 6-char reads disagree on the 2nd character; an aligned 7-char read breaks the tie.
    ballots = reads(("A81234", 0.5), ("AB1234", 0.5), ("AB12345", 0.4))
    assert vote(ballots, CROPS[:3], align=False).text == "A81234"  # the better crop wins alone
    assert vote(ballots, CROPS[:3]).text == "AB1234"


def test_char_confidences_weigh_the_vote():
    r = [
        OcrRead(CROPS[0].crop_id, "AB1", 0.8, (0.9, 0.2, 0.9)),
        OcrRead(CROPS[1].crop_id, "A81", 0.8, (0.9, 0.9, 0.9)),
    ]
    out = vote(r, CROPS[:2])
    assert out.text == "A81"
    assert out.char_confidences[0] == pytest.approx(0.9)


def test_best_crop_agrees_with_the_vote():
    out = vote(reads(("XYZ999", 0.95), ("ABC123", 0.9), ("ABC123", 0.9)), CROPS)
    assert out.text == "ABC123"
    assert out.best_crop == CROPS[1]  # crop 0 has the best quality but read something else
    assert vote(reads(("", 0.0)), CROPS).best_crop == CROPS[0]


def test_vote_track_uses_the_buffer_span():
    state = buffer_of([0.9, 0.2, 0.5, 0.1], keep=2, times=[0.0, 1.0, 2.0, 3.0])
    out = vote_track(state, [make_read(c, "ABC123") for c in state.crops], provisional=True)
    assert (out.first_seen, out.last_seen) == (T0, T0 + timedelta(seconds=3))
    assert (out.n_crops, out.n_reads, out.provisional) == (4, 2, True)
    assert out.key == "cam-1:run-1"


def test_vote_errors():
    with pytest.raises(ValueError, match="no crops"):
        vote([], [])
    with pytest.raises(ValueError, match="read of unknown crop 'nope'"):
        vote([OcrRead("nope", "A", 0.5)], CROPS)
    with pytest.raises(ValueError, match="is not of track"):
        vote([], [CROPS[0], make_crop(9, track_id="other")])


PLATE = st.text(alphabet="ABC0123O8", min_size=0, max_size=8)


@settings(deadline=None)
@given(PLATE, st.floats(0, 1), st.integers(1, 5))
def test_identical_reads_give_that_read(text, conf, n):
    out = vote([make_read(CROPS[i], text, conf) for i in range(n)], CROPS)
    assert out.text == text
    if text:
        assert out.confidence == pytest.approx(conf, abs=1e-9)
        assert out.char_confidences == pytest.approx((conf,) * len(text), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(PLATE, st.floats(0, 1), st.integers(0, 4)), max_size=6), st.randoms())
def test_read_order_does_not_matter(ballots, rnd):
    rs = [make_read(CROPS[i], t, c) for t, c, i in ballots]
    shuffled = list(rs)
    rnd.shuffle(shuffled)
    assert vote(rs, CROPS) == vote(shuffled, CROPS)
