"""Every query of docs/sql.md on both storage paths (plain PostgreSQL and TimescaleDB).

The same seed and checks as tests/api/test_sql_docs.py (which runs them on the API's database):
hourly_counts is a continuous aggregate on one path and a view on the other, plate_events a
hypertable or a partitioned table; the page's queries must work and agree on both.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.api.test_sql_docs import check_doc_query, doc_queries, seed
from tests.db.conftest import STORAGE_PATHS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=STORAGE_PATHS)
def seeded_path_db(request, make_path_database):
    """An autocommit connection to a seeded database of each storage path."""
    url = make_path_database(request.param)
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn)
        yield conn


@pytest.mark.parametrize(("heading", "sql"), doc_queries(), ids=[h for h, _ in doc_queries()])
def test_doc_query_runs_on_each_storage_path(seeded_path_db, heading, sql):
    check_doc_query(seeded_path_db, heading, sql)
