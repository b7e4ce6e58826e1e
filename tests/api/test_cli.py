"""`alpr api keys`, `alpr watchlist`, `alpr events search` through the real `alpr` command group."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from alpr.cli import cli
from api.table import render
from tests.api.conftest import insert_event
from tests.api.test_privacy import config_file


def test_render_pads_columns_under_a_rule():
    text = render(("a", "long header"), [(1, None), ("wide value", 2.5)])
    assert text.splitlines() == [
        "a           long header",
        "----------  -----------",
        "1           -",
        "wide value  2.500",
    ]


@pytest.mark.integration
def test_keys_watchlists_and_search(tmp_path, api_settings, api_url, db):
    import httpx

    runner = CliRunner()
    cfg = ["--config", config_file(tmp_path, api_settings)]
    name = f"cli-{uuid.uuid4().hex[:6]}"

    created = runner.invoke(cli, ["api", "keys", "create", name, "--role", "admin", *cfg])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert (
        httpx.post(api_url + "/admin/erase", json={"plate": "NONE1"}, headers={"X-API-Key": token}).status_code == 200
    )
    listed = runner.invoke(cli, ["api", "keys", "list", *cfg])
    assert name in listed.output and token not in listed.output
    assert runner.invoke(cli, ["api", "keys", "create", name, *cfg]).exit_code == 1  # duplicate name
    assert runner.invoke(cli, ["api", "keys", "revoke", name, *cfg]).exit_code == 0
    assert httpx.get(api_url + "/watchlists", headers={"X-API-Key": token}).status_code == 401

    added = runner.invoke(cli, ["watchlist", "add", name, "ab-123-cd", "--note", "stolen", *cfg])
    assert added.exit_code == 0 and "AB123CD" in added.output
    csv = tmp_path / "list.csv"
    csv.write_text("pattern,match_type\nXY1,exact\nbad,nope\n")
    refused = runner.invoke(cli, ["watchlist", "import", name, str(csv), *cfg])
    assert refused.exit_code == 1 and f"{csv}:3: match_type" in refused.output
    csv.write_text("pattern,match_type\nXY1,exact\n^Z[0-9]+$,regex\n")
    assert runner.invoke(cli, ["watchlist", "import", name, str(csv), *cfg]).exit_code == 0
    entries = runner.invoke(cli, ["watchlist", "list", name, *cfg]).output
    assert all(p in entries for p in ("AB123CD", "XY1", "^Z[0-9]+$"))
    assert name in runner.invoke(cli, ["watchlist", "list", *cfg]).output
    assert runner.invoke(cli, ["watchlist", "remove", name, "XY1", *cfg]).exit_code == 0
    assert "XY1" not in runner.invoke(cli, ["watchlist", "export", name, *cfg]).output

    cam = f"cli-cam-{uuid.uuid4().hex[:6]}"
    insert_event(db, plate="CL123AB", camera_id=cam, first_seen=datetime(2026, 11, 23, tzinfo=UTC))
    found = runner.invoke(cli, ["events", "search", "cl123", "--match", "prefix", "--camera", cam, *cfg])
    assert found.exit_code == 0, found.output
    lines = found.stdout.splitlines()
    assert lines[0].split()[:3] == ["first_seen", "plate", "plate_raw"] and "CL123AB" in lines[2]
    audited = db.execute(
        "SELECT actor FROM audit_log WHERE action = 'events.search' AND details->>'plate' = 'CL123'"
    ).fetchone()
    assert audited[0].startswith("cli:")


def test_freeze_heap_puts_what_startup_made_out_of_the_collectors_reach():
    import gc

    from api.cli import freeze_heap

    made_at_startup: list[list[int]] = [[1]]  # a container: tracked by the cyclic collector
    assert any(o is made_at_startup for o in gc.get_objects())
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 0
        assert not any(o is made_at_startup for o in gc.get_objects())
    finally:
        gc.unfreeze()
