"""Bulk loads of plate_events: without the plate dictionary's row trigger, then one rebuild.

The dictionary (migration 0008) is kept by a row trigger on plate_events: each read that brings
a new (plate, day) or camera updates its plate's row. That costs a third of a bulk load's rate
(10 300 -> 7 000 reads/s in bench/search.py's synthetic load; 1 million reads by COPY took 261 s
on the plain path). An import of history (a migration from another system, a restore, the
benchmarks) can instead load with the session's triggers off and rebuild the dictionary once
from the reads (about 50 s for 10 million reads):

    with psycopg.connect(url, autocommit=True) as conn:
        without_row_triggers(conn)      # superuser: session_replication_role = replica
        ... COPY / INSERT the reads ...
        rebuild_dictionary(conn)        # the plates, days and cameras of every read

``session_replication_role = replica`` turns off every ordinary trigger of the session, not only
the dictionary's; plate_events has no other. Reads written by other sessions meanwhile (the
flow) keep their trigger; :func:`rebuild_dictionary` merges into what is there, so it may run
while they write.
"""

from __future__ import annotations

from typing import Any

import psycopg

#: Every (plate, day, camera) of the reads, merged into the dictionary: days and cameras become the
#: union of what the row held and what the reads hold (sorted, each once), new plates are added.
REBUILD_SQL = """
INSERT INTO plate_dictionary AS d (plate, days, cameras)
SELECT plate, array_agg(DISTINCT day ORDER BY day), array_agg(DISTINCT camera_id ORDER BY camera_id)
  FROM (SELECT DISTINCT plate, alpr_read_day(first_seen) AS day, camera_id FROM plate_events WHERE plate <> '') AS reads
 GROUP BY plate
ON CONFLICT (plate) DO UPDATE SET
    days = ARRAY(SELECT DISTINCT x FROM unnest(d.days || EXCLUDED.days) AS x ORDER BY x),
    cameras = ARRAY(SELECT DISTINCT c FROM unnest(d.cameras || EXCLUDED.cameras) AS c ORDER BY c)
 WHERE NOT (d.days @> EXCLUDED.days AND d.cameras @> EXCLUDED.cameras)
"""


class BulkLoadError(RuntimeError):
    """The connection cannot load without triggers (not a superuser)."""


def without_row_triggers(conn: psycopg.Connection[Any]) -> None:
    """Turn off the session's row triggers (the dictionary's among them) for a bulk load.

    Needs a superuser (``session_replication_role``); raises :class:`BulkLoadError` naming the
    role otherwise. Call :func:`rebuild_dictionary` after the load.
    """
    try:
        conn.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege as exc:
        if not conn.autocommit:
            conn.rollback()
        user = conn.info.user
        raise BulkLoadError(
            f"role {user!r} cannot load without triggers (session_replication_role needs a superuser):"
            " load with the triggers on, or as a superuser"
        ) from exc


def rebuild_dictionary(conn: psycopg.Connection[Any]) -> int:
    """Merge every read's plate, day and camera into ``plate_dictionary``; the rows written.

    Runs with the session's triggers back on (``session_replication_role = origin``), in one
    statement. Idempotent: a dictionary that already lists every read's day and camera is left
    as it is (0 rows).
    """
    conn.execute("SET session_replication_role = origin")
    cur = conn.execute(REBUILD_SQL)
    return cur.rowcount
