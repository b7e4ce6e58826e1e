"""Shared fixtures. Service fixtures live in tests/fixtures/ (one module per service family)."""

import sys

import pytest

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.database",
    "tests.fixtures.pg_cluster",
    "tests.skip_policy",  # ALPR_TESTS_REQUIRE_ALL=1 (CI): a skip not listed there is an error
]


@pytest.fixture(scope="session")
def settings(stack_settings, database_url):
    """Settings pointing at the running local stack and a freshly migrated database."""
    from pydantic import SecretStr

    database = stack_settings.database.model_copy(update={"url": SecretStr(database_url)})
    return stack_settings.model_copy(update={"database": database})


@pytest.fixture(scope="module", autouse=True)
def _close_shared_erasure_watches():
    """In-process flows start one erasure watch per database for the process's life
    (flows.erasures.shared_watch); after each test module they are stopped, so that none keeps
    polling (and logging into later tests' output) a database that its module dropped."""
    yield
    erasures = sys.modules.get("flows.erasures")
    if erasures is not None:
        erasures.close_shared()
