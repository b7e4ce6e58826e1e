"""Shared fixtures. Service fixtures live in tests/fixtures/ (one module per service family)."""

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
