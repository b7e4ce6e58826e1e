"""Best-shot windowing of one track: event-time closing, notify projection, provisional reads."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from bytewax.operators import StatefulBatchLogic
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.steps.best_shot import TrackWindow, WindowConfig
from tests.flows.crops import T0, make_crop

WALL = T0 + timedelta(hours=5)  # processing time differs from event time on purpose


def config(**kw) -> WindowConfig:
    base = dict(
        idle_s=2.0,
        max_s=30.0,
        keep=3,
        provisional=False,
        provisional_min_crops=3,
        provisional_min_quality=0.9,
    )
    return WindowConfig(**{**base, **kw})


def crop(i: int, seconds: float, quality: float = 0.5, track: str = "t1"):
    return make_crop(b"img", index=i, at=T0 + timedelta(seconds=seconds), quality=quality, track=track)


class Clock:
    def __init__(self) -> None:
        self.now = WALL

    def __call__(self):
        return self.now


def test_crops_within_the_idle_gap_stay_open_and_notify_projects_the_close_point():
    clock = Clock()
    w = TrackWindow(config(), None, clock)
    assert w.on_batch([crop(0, 0.0)]) == ([], StatefulBatchLogic.RETAIN)
    clock.now += timedelta(seconds=0.5)
    assert w.on_batch([crop(1, 0.4)])[0] == []
    # idle close point is last frame + 2 s in event time = 2 s after the newest crop arrived.
    assert w.notify_at() == clock.now + timedelta(seconds=2)
    out, discard = w.on_notify()
    assert discard is StatefulBatchLogic.DISCARD
    assert [t.provisional for t in out] == [False]
    assert [c.crop_id for c in out[0].buffer.crops] == ["cam-1:t1:0", "cam-1:t1:1"]


def test_a_crop_past_the_idle_gap_closes_the_old_pass_and_opens_a_new_one():
    w = TrackWindow(config(), None, Clock())
    w.on_batch([crop(0, 0.0)])
    w.on_batch([crop(1, 1.0)])
    out, discard = w.on_batch([crop(2, 3.5)])  # 2.5 s after the last crop: idle
    assert discard is StatefulBatchLogic.RETAIN
    assert [c.frame_index for c in out[0].buffer.crops] == [0, 1]
    closed, _ = w.on_eof()
    assert [c.frame_index for c in closed[0].buffer.crops] == [2]
    assert closed[0].buffer.first_seen == T0 + timedelta(seconds=3.5)


def test_max_duration_closes_a_track_that_never_goes_idle():
    w = TrackWindow(config(max_s=3.0), None, Clock())
    outs = [w.on_batch([crop(i, i * 1.0)])[0] for i in range(5)]  # one crop a second
    assert [len(o) for o in outs] == [0, 0, 0, 1, 0]
    assert outs[3][0].buffer.n_crops == 3
    # remaining window: first 3.0 + max 3 = 6.0, last crop at 4.0 -> notify 2 s after arrival
    assert w.notify_at() == WALL + timedelta(seconds=2)


def test_keeps_the_best_crops_by_quality():
    w = TrackWindow(config(keep=2), None, Clock())
    for i, q in enumerate([0.2, 0.9, 0.5, 0.7]):
        w.on_batch([crop(i, i * 0.1, quality=q)])
    out, _ = w.on_eof()
    assert [c.quality for c in out[0].buffer.crops] == pytest.approx([0.9, 0.7])
    assert out[0].buffer.n_crops == 4


@pytest.mark.parametrize(
    ("qualities", "emitted_at"),
    [
        ([0.5, 0.5, 0.5, 0.5], 2),  # third crop: min_crops reached
        ([0.5, 0.95, 0.5, 0.5], 1),  # second crop is good enough on its own
        ([0.95, 0.95, 0.95], 0),
    ],
)
def test_one_provisional_read_then_the_final_one(qualities, emitted_at):
    w = TrackWindow(config(provisional=True), None, Clock())
    outs = [w.on_batch([crop(i, i * 0.1, quality=q)])[0] for i, q in enumerate(qualities)]
    provisional = [(i, t) for i, o in enumerate(outs) for t in o]
    assert [(i, t.provisional) for i, t in provisional] == [(emitted_at, True)]
    assert provisional[0][1].buffer.n_crops == emitted_at + 1
    final, _ = w.on_eof()
    assert [t.provisional for t in final] == [False]
    assert final[0].buffer.n_crops == len(qualities)


def test_snapshot_resumes_the_same_window():
    clock = Clock()
    w = TrackWindow(config(provisional=True), None, clock)
    for i in range(3):
        w.on_batch([crop(i, i * 0.1)])
    snap = w.snapshot()
    resumed = TrackWindow(config(provisional=True), snap, clock)
    assert resumed.notify_at() == w.notify_at()
    assert resumed.on_batch([crop(3, 0.4)])[0] == []  # provisional already sent before the snapshot
    assert snap.buffer.n_crops == 3  # the snapshot is not changed by later items
    assert resumed.on_eof()[0][0].buffer.n_crops == 4


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=25),
    qualities=st.lists(st.floats(0.0, 1.0), min_size=25, max_size=25),
    cuts=st.lists(st.integers(1, 25), max_size=6),
)
def test_a_batch_gives_what_its_crops_give_one_at_a_time(gaps, qualities, cuts):
    """Bytewax may hand a track's crops in any batching: the windows closed are the same."""
    at, crops = 0.0, []
    for i, gap in enumerate(gaps):
        at += gap
        crops.append(crop(i, at, quality=qualities[i]))
    bounds = sorted({0, len(crops), *(c for c in cuts if c < len(crops))})
    cfg = config(provisional=True, max_s=10.0)

    def run(batches):
        w = TrackWindow(cfg, None, Clock())
        out = [t for b in batches for t in w.on_batch(b)[0]] + w.on_eof()[0]
        return [(t.provisional, [c.crop_id for c in t.buffer.crops], t.buffer.n_crops) for t in out]

    one_by_one = run([[c] for c in crops])
    assert run([crops[a:b] for a, b in itertools.pairwise(bounds)]) == one_by_one
    assert sum(n for p, _, n in one_by_one if not p) == len(crops)  # every crop in one final window
