"""Shared fixtures. Service fixtures live in tests/fixtures/ (one module per service family)."""

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.database",
]
