"""Dedup: fuzzy merge within a window, updates keep the event id, bounded state."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.flow import FlowSettings
from operators.dedup import DedupRules, dedup, dedup_key
from operators.records import PlateEvent, PlateRead
from tests.operators.builders import make_track_read

RULES = DedupRules(window_s=300, max_distance=1.0)


def event(
    plate: str,
    t: float,
    *,
    track: str = "t1",
    conf: float = 0.8,
    camera: str = "cam-1",
    span: float = 2.0,
    sightings: int = 3,
    provisional: bool = False,
) -> PlateEvent:
    read = make_track_read(plate, confidence=conf, first=t, last=t + span, track_id=track, camera_id=camera)
    ev = PlateEvent.from_read(PlateRead(read, plate, plate.lower(), "US", "US"), crop_key=f"crops/{track}.jpg")
    return replace(ev, sightings=sightings, provisional=provisional)


def run(events, rules=RULES):
    state, out = None, []
    for ev in events:
        state, emitted = dedup(state, ev, rules)
        out.append(emitted)
    return state, out


@pytest.mark.parametrize(
    ("second", "t", "merged"),
    [
        ("ABC123", 10, True),  # the same plate again
        ("A8C123", 10, True),  # one confusion: 0.5
        ("ABX123", 10, True),  # one real substitution: 1.0
        ("ABC12", 10, True),  # one deletion
        ("AXC12", 10, False),  # 2.0
        ("XYZ789", 10, False),
        ("ABC123", 301, True),  # 301 s after the start is 299 s after the first event's last_seen
        ("ABC123", 303, False),  # beyond the window
    ],
)
def test_merge_or_new(second, t, merged):
    first = event("ABC123", 0, track="t1")
    _, (a, b) = run([first, event(second, t, track="t2")])
    assert a == first
    assert (b.event_id == first.event_id) is merged
    if merged:
        assert b.sightings == 6
        assert b.first_seen == first.first_seen
        assert b.last_seen == first.last_seen + timedelta(seconds=t)
        assert b.track_id == "t1"


def test_update_keeps_the_most_confident_read():
    _, (a, b, c) = run(
        [
            event("A8C123", 0, conf=0.6),
            event("ABC123", 5, track="t2", conf=0.9),
            event("ABC128", 10, track="t3", conf=0.7),
        ]
    )
    assert a.event_id == b.event_id == c.event_id
    assert (b.plate, b.plate_raw, b.confidence, b.crop_key) == (
        "ABC123",
        "abc123",
        pytest.approx(0.9),
        "crops/t2.jpg",
    )
    assert (c.plate, c.sightings) == ("ABC123", 9)  # the weaker third read only adds sightings
    assert c.frame_ts == b.frame_ts


def test_final_read_of_a_track_replaces_its_provisional_read():
    prov = event("ABC1Z3", 0, sightings=2, provisional=True, conf=0.9)
    final = event("ABC123", 0, sightings=5, span=4.0, conf=0.7)
    assert prov.event_id == final.event_id
    _, (a, b) = run([prov, final])
    assert a.provisional and not b.provisional
    assert (b.plate, b.sightings, b.confidence) == ("ABC123", 5, pytest.approx(0.7))


def test_window_zero_merges_only_overlapping_tracks():
    rules = DedupRules(window_s=0)
    _, (a, b) = run([event("ABC123", 0), event("ABC123", 3, track="t2")], rules)  # 1 s apart
    assert a.event_id != b.event_id
    _, (a, b) = run([event("ABC123", 0), event("ABC123", 1, track="t2")], rules)  # a split track
    assert a.event_id == b.event_id


def test_the_closest_recent_event_wins():
    _, out = run(
        [
            event("ABC123", 0, track="t1"),
            event("ABC128", 1, track="t2", conf=0.1),
            event("ABC128", 2, track="t3"),
        ]
    )
    assert out[1].event_id == out[0].event_id  # ABC128 is within 1 of ABC123
    assert out[2].event_id == out[0].event_id


def test_state_is_bounded_by_window_and_size():
    plates = [f"{chr(65 + i) * 3}{i}{i}{i}" for i in range(10)]  # pairwise far apart
    state, _ = run([event(p, i * 100, track=f"t{i}") for i, p in enumerate(plates)])
    assert len(state) == 4  # last_seen more than 300 s before the latest first_seen (900): evicted
    state, _ = run([event(p, i, track=f"t{i}") for i, p in enumerate(plates)], DedupRules(max_events=8))
    assert len(state) == 8
    assert pickle.loads(pickle.dumps(state)) == state


def test_keys_and_rules_from_settings():
    ev = event("ABC123", 0)
    assert (dedup_key(ev), dedup_key(ev, "site")) == ("cam-1", "lot-a")
    rules = DedupRules.from_settings(FlowSettings(dedup_window_s=60, dedup={"max_distance": 0.5, "by": "site"}))
    assert (rules.window_s, rules.max_distance, rules.by, rules.confusion_cost) == (60, 0.5, "site", 0.5)
    with pytest.raises(ValueError, match="DedupRules"):
        DedupRules(max_events=0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ABC123", "A8C123", "XYZ789", "XYZ78", "QQQ111"]),
            st.floats(0, 1000),
            st.floats(0.1, 1),
        ),
        max_size=12,
    )
)
def test_sightings_are_conserved_and_ids_stable(reads):
    events = [event(p, t, track=f"t{i}", conf=c) for i, (p, t, c) in enumerate(sorted(reads, key=lambda r: r[1]))]
    _, out = run(events)
    final: dict[str, PlateEvent] = {}
    for ev in out:
        if ev.event_id in final:
            assert ev.first_seen == final[ev.event_id].first_seen  # the database key never moves
            assert ev.last_seen >= final[ev.event_id].last_seen
            assert ev.sightings > final[ev.event_id].sightings
        final[ev.event_id] = ev
    assert sum(ev.sightings for ev in final.values()) == sum(ev.sightings for ev in events)
    assert {ev.plate for ev in out} <= {ev.plate for ev in events}


# --- issue 12, defect 5: one far-future event disabled dedup for its camera ----------------


def _far_future_then_two_passes(now):
    future = event("ZZZ999", 0, track="bad")
    later = timedelta(days=27_000)  # year 2100
    future = replace(future, first_seen=future.first_seen + later, last_seen=future.last_seen + later)
    state, _ = dedup(None, future, RULES, now=now)
    state, first = dedup(state, event("ABC123", 10, track="p1"), RULES, now=now)
    state, second = dedup(state, event("ABC123", 13, track="p2"), RULES, now=now)
    return state, first, second


def test_a_far_future_event_does_not_move_the_window_past_the_clock():
    now = event("X", 20).first_seen  # the flow's clock: just after the passes
    _, first, second = _far_future_then_two_passes(now)
    assert second.event_id == first.event_id and second.sightings == 6  # merged, as without it


def test_a_resumed_state_with_a_far_future_watermark_heals():
    now = event("X", 20).first_seen
    state, _, _ = _far_future_then_two_passes(None)  # no clock: the old behaviour, as a snapshot held it
    assert state.watermark.year >= 2100
    state, a = dedup(state, event("DEF456", 30, track="p3"), RULES, now=now)
    state, b = dedup(state, event("DEF456", 33, track="p4"), RULES, now=now)
    assert a.event_id == b.event_id


def test_a_backlog_an_hour_old_still_merges_with_the_clock_given():
    now = event("X", 3600).first_seen  # the flow catches up on crops an hour old
    state, a = dedup(None, event("ABC123", 10, track="p1"), RULES, now=now)
    state, b = dedup(state, event("ABC123", 30, track="p2"), RULES, now=now)
    assert a.event_id == b.event_id
