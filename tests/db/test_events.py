"""The plate-event writes' pure helpers: which version of an event wins (db.events)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.events import event_rank, latest_events
from tests.flows.sink_records import make_event


@pytest.mark.parametrize(
    ("a", "b", "a_wins"),
    [
        ({"sightings": 1}, {"sightings": 2}, False),
        ({"sightings": 3}, {"sightings": 2}, True),
        ({"provisional": True}, {"provisional": False}, False),
        ({"provisional": False, "sightings": 1}, {"provisional": True, "sightings": 2}, False),
        ({"last": 5.0}, {"last": 2.0}, True),
    ],
)
def test_event_rank_orders_versions(a, b, a_wins):
    ea, eb = make_event("cam", **a), make_event("cam", **b)
    assert (event_rank(ea) > event_rank(eb)) is a_wins


def test_latest_events_keeps_one_version_per_event_the_highest_ranked():
    v1 = make_event("cam", sightings=1)
    v2 = dataclasses.replace(v1, sightings=2, last_seen=v1.last_seen + timedelta(seconds=3))
    other = make_event("cam", "run-2")
    tie = dataclasses.replace(v2, plate="ABC124")  # same rank: the later one wins
    assert sorted(latest_events([v2, other, v1]), key=lambda e: e.track_id) == [v2, other]
    assert latest_events([v1, v2, tie]) == [tie]
    assert latest_events([]) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 4), st.booleans(), st.integers(0, 5)),
        max_size=25,
    )
)
def test_latest_events_is_idempotent_and_keeps_the_best_version_of_each_event(versions):
    events = [
        make_event("cam", f"run-{track}", sightings=n, provisional=prov, last=float(last), first=0.0)
        for track, n, prov, last in versions
    ]
    latest = latest_events(events)
    assert latest_events(latest) == latest
    assert len({(e.event_id, e.first_seen) for e in latest}) == len(latest)
    for kept in latest:
        same = [e for e in events if e.event_id == kept.event_id]
        assert event_rank(kept) == max(event_rank(e) for e in same)
