"""Every query of docs/sql.md runs on the real schema and returns the seeded rows it should."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.conftest import insert_alert, insert_event

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"


def doc_queries() -> list[tuple[str, str]]:
    """(heading, sql) of every ```sql block."""
    text = DOC.read_text(encoding="utf-8")
    out, heading = [], ""
    for block in re.finditer(r"^### ([^\n]+)$|^```sql\n(.*?)^```", text, flags=re.M | re.S):
        if block.group(1):
            heading = block.group(1)
        else:
            out.append((heading, block.group(2)))
    return out


def test_the_page_has_queries():
    assert len(doc_queries()) >= 10


def seed(db) -> str:
    """Reads of AB123CD and look-alikes, an alert, a rejected read, an audit row; returns the camera."""
    now = datetime.now(UTC)
    cam = f"doc-{uuid.uuid4().hex[:6]}"
    e = insert_event(db, plate="AB123CD", camera_id=cam, site="north", first_seen=now - timedelta(hours=3))
    insert_event(db, plate="AB123CD", camera_id=cam + "-s", site="south", first_seen=now - timedelta(hours=2))
    insert_event(db, plate="A8I23CD", camera_id=cam, site="north", first_seen=now - timedelta(hours=2), confidence=0.4)
    wl = db.execute("INSERT INTO watchlists (name) VALUES (%s) RETURNING id", (cam,)).fetchone()[0]
    insert_alert(
        db,
        event_id=e,
        watchlist_id=wl,
        plate="AB123CD",
        camera_id=cam,
        observed_at=now - timedelta(hours=3),
        channels={"webhook": "failed"},
    )
    db.execute(
        "INSERT INTO rejected_reads (observed_at, site, camera_id, track_id, plate_raw, reason, confidence)"
        " VALUES (now(), 'north', %s, 't', 'A?1', 'invalid_format', 0.3)",
        (cam,),
    )
    db.execute(
        "INSERT INTO audit_log (actor, action, details) VALUES ('doc', 'events.search',"
        ' \'{"plate": "AB123CD", "match": "exact"}\')'
    )
    return cam


def check_doc_query(db, heading: str, sql: str) -> None:
    """Run one query of the page on seeded rows and check what it returns."""
    cur = db.execute(sql)
    rows = cur.fetchall()
    names = [d.name for d in cur.description]
    if heading.startswith("Erasures"):
        return  # may be empty in a fresh database
    assert rows, f"{heading}: no rows"
    if heading.startswith("Plates that look like"):
        assert {(r[0], r[1]) for r in rows} >= {("AB123CD", 0.0), ("A8I23CD", 1.0)}
    if heading.startswith("Plates seen at more than one site"):
        assert ("AB123CD", 2) in {(r[0], r[1]) for r in rows}
    if heading.startswith("Deliveries that failed"):
        assert "last_error" in names and any(r[3] == "webhook" for r in rows)


@pytest.fixture
def seeded(db):
    """Within a transaction rolled back afterwards: the rows of :func:`seed`."""
    tx = db.transaction()
    tx.__enter__()
    yield seed(db)
    tx.__exit__(RuntimeError, RuntimeError("rollback"), None)  # roll back


@pytest.mark.integration
@pytest.mark.parametrize(("heading", "sql"), doc_queries(), ids=[h for h, _ in doc_queries()])
def test_doc_query_runs(db, seeded, heading, sql):
    check_doc_query(db, heading, sql)
