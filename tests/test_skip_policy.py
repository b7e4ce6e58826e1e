"""ALPR_TESTS_REQUIRE_ALL=1 turns skips into errors naming what is missing, except the allowed ones."""

from __future__ import annotations

import pytest

from tests import skip_policy

pytest_plugins = ["pytester"]

INNER = """
import pytest

@pytest.fixture(scope="session")
def server():
    pytest.skip("PostgreSQL not reachable at postgresql://127.0.0.1:1/x")

def test_needs_server(server):
    pass

def test_opt_in():
    pytest.skip("set ALPR_SLOW_TESTS=1")

@pytest.mark.xfail(reason="known")
def test_known_bug():
    assert False

def test_fine():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(test_inner=INNER)
    pytester.makepyfile(test_missing_dep="import pytest\npytest.importorskip('no_such_module_here')\n")
    allowed = (
        skip_policy.AllowedSkip("test_inner.py::test_opt_in", "ALPR_SLOW_TESTS", "opt-in by design"),
        skip_policy.AllowedSkip("test_inner.py::test_needs_server", "ALPR_SLOW_TESTS", "allowed for another reason"),
    )
    monkeypatch.setattr(skip_policy, "ALLOWED", allowed)
    return pytester


def test_without_the_variable_skips_stay_skips(inner, monkeypatch):
    monkeypatch.delenv(skip_policy.ENV, raising=False)
    inner.runpytest("-p", "tests.skip_policy").assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_with_the_variable_only_listed_skips_pass_and_the_rest_name_what_is_missing(inner, monkeypatch):
    monkeypatch.setenv(skip_policy.ENV, "1")
    # A module skipped at import is a collection error, which stops a run unless told otherwise.
    assert inner.runpytest("-p", "tests.skip_policy").ret == pytest.ExitCode.INTERRUPTED
    result = inner.runpytest("-p", "tests.skip_policy", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1, errors=2)
    out = result.stdout.str()
    assert (
        "test_inner.py::test_needs_server skipped, but ALPR_TESTS_REQUIRE_ALL=1 makes skips errors: "
        "PostgreSQL not reachable at postgresql://127.0.0.1:1/x" in out
    )
    assert (
        "test_missing_dep.py skipped, but ALPR_TESTS_REQUIRE_ALL=1 makes skips errors: "
        "could not import 'no_such_module_here'" in out
    )
    result.stdout.fnmatch_lines(
        ["*allowed skips*", "test_inner.py::test_opt_in: opt-in by design [[]skip said: set ALPR_SLOW_TESTS=1[]]"]
    )
