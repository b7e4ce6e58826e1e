"""Fault injection, short version (CI): ``bench/chaos.py --quick`` on the real flow and services.

The flow runs as a process with recovery while vehicle passes and 15 kinds of malformed
messages stream in; it is killed with SIGKILL and S3, PostgreSQL, the webhook receiver and the
broker each go away for a few seconds. Nothing may be lost or stored twice, every alert must
arrive, every malformed message must become a dead letter, and the flow may exit only when it
is killed. The long run and its figures: ``python bench/chaos.py --json`` (docs/flow.md).
"""

from __future__ import annotations

import pytest

from bench.chaos import Plan, run

pytestmark = pytest.mark.integration


def test_the_flow_loses_nothing_under_kills_outages_and_malformed_messages(database_server_url, tmp_path):
    report = run(Plan.quick(), tmp_path)
    summary = {k: v for k, v in report.items() if k not in ("dead_letters_by_reason", "plan")}
    assert report["events_expected"] == report["passes"] > 0, summary
    assert report["events_lost"] == 0 and report["events_duplicated"] == 0, summary
    assert report["events_wrong_sightings"] == 0 and report["events_wrong_plate"] == 0, summary
    assert report["events_without_crop"] == 0 and report["crops_still_waiting"] == 0, summary  # S3 outage healed
    assert report["alerts_expected"] > 0 and report["alerts_lost"] == 0, summary
    assert len(report["malformed_sent"]) == 15 and report["malformed_not_dead_lettered"] == {}, summary
    assert report["flow_kills"] >= 1 and report["flow_exits"] == 0, summary
    assert {f["fault"] for f in report["faults"]} == {"s3", "postgres", "receiver", "broker"}, summary
    assert report["kafka_final_events_missing"] == 0, summary
