"""Watchlist CSV parsing (pure) and the watchlist routes against the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from api.watchlist_csv import EntryInput, parse_csv, write_csv


def test_csv_errors_carry_their_line_numbers_and_nothing_is_kept():
    text = (
        "pattern,match_type,max_distance,note\n"
        "ab-123-cd,exact,1,stolen\n"
        ",exact,1,\n"
        "AB1,sounds,1,\n"
        "\n"
        "^AB[0-9+$,regex,0,\n"
        "XY1,fuzzy,nine,\n"
        "XY2,fuzzy\n"
    )
    entries, errors = parse_csv(text)
    assert [(e.line, e.message.split(" ")[0]) for e in errors] == [
        (3, "pattern"),
        (4, "match_type"),
        (6, "pattern"),
        (7, "max_distance"),
        (8, "expected"),
    ]
    assert entries[0] == EntryInput("AB123CD", "exact", 1, None, "stolen")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty file"), ("plate\nAB1\n", "unknown column"), ("note\nx\n", "no 'pattern'")],
)
def test_csv_header_problems(text, message):
    entries, errors = parse_csv(text)
    assert entries == [] and errors[0].line == 1 and message in errors[0].message


def test_csv_round_trip():
    entries = [
        EntryInput("AB123CD", "exact", 1, "high", 'a, quoted "note"', datetime(2027, 1, 1, tzinfo=UTC)),
        EntryInput("^XY[0-9]{3}$", "regex", 0),
        EntryInput("ZZ999", "fuzzy", 2),
    ]
    assert parse_csv(write_csv(entries)) == (entries, [])


@pytest.mark.integration
def test_watchlist_crud_import_export(admin, reader):
    name = f"wl-{uuid.uuid4().hex[:8]}"
    created = admin.post("/watchlists", json={"name": name, "severity": "high", "channels": ["webhook"]})
    assert created.status_code == 201, created.text
    wl = created.json()
    assert admin.post("/watchlists", json={"name": name}).status_code == 409
    assert reader.post("/watchlists", json={"name": name + "x"}).status_code == 403

    entry = admin.post(f"/watchlists/{wl['id']}/entries", json={"pattern": "ab 123 cd", "note": "stolen"})
    assert entry.status_code == 201 and entry.json()["pattern"] == "AB123CD"
    bad = admin.post(f"/watchlists/{wl['id']}/entries", json={"pattern": "([", "match_type": "regex"})
    assert bad.status_code == 422 and "regular expression" in bad.json()["detail"]

    csv_bad = "pattern,match_type\nXY1,exact\nXY2,nope\n"
    rejected = admin.post(f"/watchlists/{wl['id']}/import", content=csv_bad, headers={"Content-Type": "text/csv"})
    assert rejected.status_code == 422
    assert rejected.json()["errors"] == [
        {"line": 3, "message": "match_type must be one of exact, regex, fuzzy, got 'nope'"}
    ]
    assert reader.get(f"/watchlists/{wl['id']}").json()["entries"] == 1  # nothing imported

    csv_ok = "pattern,match_type,max_distance\nXY1,exact,1\n^Q[0-9]+$,regex,0\n"
    imported = admin.post(f"/watchlists/{wl['id']}/import", content=csv_ok, headers={"Content-Type": "text/csv"})
    assert imported.json() == {"imported": 2, "replaced": False}
    exported = reader.get(f"/watchlists/{wl['id']}/export")
    assert exported.headers["content-type"].startswith("text/csv")
    assert [e.pattern for e in parse_csv(exported.text)[0]] == ["AB123CD", "XY1", "^Q[0-9]+$"]
    replaced = admin.post(
        f"/watchlists/{wl['id']}/import?replace=true", content=csv_ok, headers={"Content-Type": "text/csv"}
    )
    assert replaced.json()["replaced"] is True
    detail = reader.get(f"/watchlists/{wl['id']}").json()
    assert [e["pattern"] for e in detail["entry_list"]] == ["XY1", "^Q[0-9]+$"]

    renamed = admin.patch(f"/watchlists/{wl['id']}", json={"name": name + "-2", "severity": "low"})
    assert renamed.json()["name"] == name + "-2" and renamed.json()["severity"] == "low"
    entry_id = detail["entry_list"][0]["id"]
    assert admin.delete(f"/watchlists/{wl['id']}/entries/{entry_id}").status_code == 204
    assert admin.delete(f"/watchlists/{wl['id']}/entries/{entry_id}").status_code == 404
    assert admin.delete(f"/watchlists/{wl['id']}").status_code == 204
    assert reader.get(f"/watchlists/{wl['id']}").status_code == 404


@pytest.mark.integration
def test_flow_loads_what_the_api_wrote(admin, db):
    from db.watchlists import read_entries

    wl = admin.post("/watchlists", json={"name": f"wl-{uuid.uuid4().hex[:8]}"}).json()
    admin.post(f"/watchlists/{wl['id']}/entries", json={"pattern": "FL0W1", "match_type": "fuzzy"})
    entries, skipped = read_entries(db)
    mine = [e for e in entries if e.watchlist_id == wl["id"]]
    assert [(e.pattern, e.match_type) for e in mine] == [("FL0W1", "fuzzy")]


# --- issue 12: formula injection (defect 8), bounded and sanitised entries -------------------


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(cell):
    text = write_csv([EntryInput("AB123", "exact", 1, "high", cell), EntryInput("-AB", "regex", 0)])
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
    # ... and the import reads the original values back
    assert [e.note for e in parse_csv(text)[0]] == [cell, None]
    assert [e.pattern for e in parse_csv(text)[0]] == ["AB123", "-AB"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("(A)\\1,regex,0,,", "not supported"),
        ("A{999}B{999}C{999},regex,0,,", "too complex"),
        ('AB1,exact,1,high,"bad\x00note"', "non-printable"),
        ('AB1,exact,1,"' + "h" * 300 + '",', "severity is 300 characters long"),
        ("A" * 300 + ",exact,1,,", "pattern is 300 characters long"),
    ],
)
def test_import_refuses_unbounded_regexes_and_hostile_strings_by_line(row, message):
    entries, errors = parse_csv("pattern,match_type,max_distance,severity,note\n" + row + "\n")
    assert entries == [] or errors, entries
    assert [e.line for e in errors] == [2] and message in errors[0].message, errors


@pytest.mark.integration
def test_api_refuses_hostile_strings_and_unbounded_regexes_with_422(admin):
    wl = admin.post("/watchlists", json={"name": f"wl-{uuid.uuid4().hex[:8]}"}).json()
    for body, part in [
        ({"pattern": "(.*)\\1", "match_type": "regex"}, "not supported"),
        ({"pattern": "A{999}B{999}C{999}", "match_type": "regex"}, "too complex"),
        ({"pattern": "AB1", "note": "bad\x00note"}, "non-printable"),
        ({"pattern": "AB1", "severity": "hi\u202egh"}, "non-printable"),
    ]:
        r = admin.post(f"/watchlists/{wl['id']}/entries", json=body)
        assert r.status_code == 422 and part in r.text, (body, r.status_code, r.text)
    assert admin.post("/watchlists", json={"name": "a\nb"}).status_code == 422
    assert admin.get(f"/watchlists/{wl['id']}").json()["entries"] == 0
