"""The dedup step (a bytewax StatefulLogic around operators.dedup) bounds event time by its clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.steps.dedup import DedupLogic
from operators.dedup import DedupRules
from operators.records import PlateEvent


def _event(camera: str, track: str, plate: str, at: datetime) -> PlateEvent:
    return PlateEvent(
        event_id=PlateEvent.make_id(camera, track, at), camera_id=camera, site="s", track_id=track,
        plate=plate, plate_raw=plate, confidence=0.9, region=None, first_seen=at,
        last_seen=at + timedelta(seconds=1), frame_ts=at,
    )  # fmt: skip


def test_one_far_future_event_does_not_disable_dedup_of_its_camera():
    # Defect 5 of issue 12: after one crop dated 2100 every new event was evicted before it
    # could merge (two passes 3 s apart gave two events), and the snapshot kept it that way.
    logic = DedupLogic(DedupRules(window_s=300))  # the flow's clock: the wall clock
    now = datetime.now(UTC)
    logic.on_item(_event("cam", "bad", "ZZZ999", datetime(2100, 1, 1, tzinfo=UTC)))
    [first], _ = logic.on_item(_event("cam", "p1", "ABC123", now - timedelta(seconds=10)))
    [second], _ = logic.on_item(_event("cam", "p2", "ABC123", now - timedelta(seconds=7)))
    assert second.event_id == first.event_id and second.sightings == 2

    resumed = DedupLogic(DedupRules(window_s=300), logic.snapshot())  # after a restart
    [third], _ = resumed.on_item(_event("cam", "p3", "ABC123", now - timedelta(seconds=4)))
    assert third.event_id == first.event_id and third.sightings == 3
