"""Bulk loads without the dictionary's trigger, then one rebuild (db/bulk.py), on both storage paths."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from db.bulk import BulkLoadError, rebuild_dictionary, without_row_triggers
from db.synthetic import ReadSpec, insert_reads
from tests.db.conftest import STORAGE_PATHS, days_to_today

pytestmark = pytest.mark.integration


def _dictionary(conn: psycopg.Connection[Any]) -> dict[str, tuple[list[Any], list[str]]]:
    rows = conn.execute("SELECT plate, days, cameras FROM plate_dictionary").fetchall()
    return {p: (list(days), list(cameras)) for p, days, cameras in rows}


def _from_reads(conn: psycopg.Connection[Any]) -> dict[str, tuple[list[Any], list[str]]]:
    rows = conn.execute(
        "SELECT plate, array_agg(DISTINCT day ORDER BY day), array_agg(DISTINCT camera_id ORDER BY camera_id)"
        " FROM (SELECT plate, (first_seen AT TIME ZONE 'UTC')::date AS day, camera_id FROM plate_events"
        " WHERE plate <> '') AS reads GROUP BY plate"
    ).fetchall()
    return {p: (list(days), list(cameras)) for p, days, cameras in rows}


def _as_sets(d: dict[str, tuple[list[Any], list[str]]]) -> dict[str, tuple[frozenset[Any], frozenset[str]]]:
    return {p: (frozenset(days), frozenset(cameras)) for p, (days, cameras) in d.items()}


@pytest.mark.parametrize("path", STORAGE_PATHS)
def test_a_load_without_triggers_then_a_rebuild_gives_the_dictionary_of_the_reads(path, make_path_database):
    url = make_path_database(path)
    spec = days_to_today(6_000, 5, 800)
    with psycopg.connect(url, autocommit=True) as conn:
        without_row_triggers(conn)
        assert insert_reads(conn, spec) == spec.rows
        assert conn.execute("SELECT count(*) FROM plate_dictionary").fetchone() == (0,)  # the trigger was off
        written = rebuild_dictionary(conn)
        expected = _from_reads(conn)
        assert written == len(expected) > 100
        assert _dictionary(conn) == expected  # sorted days and cameras, each once
        assert rebuild_dictionary(conn) == 0  # nothing left to merge

        # Triggers are back on for this session: new reads (a later day, another camera) reach
        # the dictionary by the trigger, and a rebuild merges without losing or doubling any.
        later = ReadSpec(
            rows=500,
            end=spec.end + timedelta(days=1),
            span=timedelta(hours=20),
            cameras=30,
            sites=4,
            plates=800,
        )
        insert_reads(conn, later)
        assert _as_sets(_dictionary(conn)) == _as_sets(_from_reads(conn))
        conn.execute("DELETE FROM plate_dictionary WHERE plate IN (SELECT plate FROM plate_dictionary LIMIT 50)")
        conn.execute(
            "UPDATE plate_dictionary SET days = days[1:1], cameras = cameras[1:1]"
            " WHERE plate IN (SELECT plate FROM plate_dictionary WHERE cardinality(days) > 1 LIMIT 50)"
        )
        assert rebuild_dictionary(conn) == 100
        assert _as_sets(_dictionary(conn)) == _as_sets(_from_reads(conn))


def test_a_role_that_is_not_superuser_is_told_why_it_cannot_load_without_triggers(make_path_database):
    url = make_path_database("plain")
    role = f"alpr_loader_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            with psycopg.connect(url, user=role, autocommit=True) as conn:
                with pytest.raises(BulkLoadError, match=f"role '{role}' cannot load without triggers"):
                    without_row_triggers(conn)
                assert conn.execute("SHOW session_replication_role").fetchone() == ("origin",)
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
