"""Which tests may skip in CI, and why: every other skip is an error when ``ALPR_TESTS_REQUIRE_ALL=1``.

A skip hides a part of the product that was not tested: PostgreSQL not answering, the broker
binary missing, ``../shared/data`` absent. On a developer's machine that is a convenience; in CI
(``.ci/run`` sets ``ALPR_TESTS_REQUIRE_ALL=1``) it would let the run pass without its
integration tier, its data-dependent tests or its accuracy floors. So, with the variable set,
a skip fails its test (or its module, for a skip at collection) with the skip's own reason,
which names what is missing, unless the test is listed in :data:`ALLOWED` below. The allowed
skips that happened are printed at the end of the run, with their reasons.

This is the one list of allowed skips: add to it only with a reason a reviewer would accept
(the test needs something CI cannot have, or is opt-in by design), never to get a run green.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

ENV = "ALPR_TESTS_REQUIRE_ALL"


@dataclass(frozen=True, slots=True)
class AllowedSkip:
    """Tests whose node id starts with ``test`` may skip for ``reason``: only when their skip message
    contains ``because`` (a test allowed to skip as opt-in still fails when PostgreSQL is missing)."""

    test: str
    because: str
    reason: str


ALLOWED: tuple[AllowedSkip, ...] = (
    AllowedSkip(
        "tests/alerts/test_outbox.py::test_one_minute_outage_with_the_default_retry_policy",
        "set ALPR_SLOW_TESTS=1",
        "opt-in slow test (a 60 s receiver outage; the same path runs with a short outage): ALPR_SLOW_TESTS=1",
    ),
    AllowedSkip(
        "tests/edge/test_publish_integration.py::test_outage_spools_and_replays_in_order[60s]",
        "set ALPR_TEST_FULL_OUTAGE=1",
        "opt-in slow case (a 60 s broker outage; the short case runs): ALPR_TEST_FULL_OUTAGE=1",
    ),
    AllowedSkip(
        "tests/edge/test_detect.py::test_ultralytics_backend_finds_what_the_onnx_backend_finds",
        "set ALPR_TEST_ULTRALYTICS_WEIGHTS",
        "opt-in: needs torch + ultralytics (not project dependencies, ~1 GB) and safelicensing's best.pt "
        "named by ALPR_TEST_ULTRALYTICS_WEIGHTS",
    ),
    AllowedSkip(
        "tests/db/test_partitions.py::test_cron_fallback_is_clean_when_cron_is_not_preloaded",
        "pg_cron is usable on this server",
        "runs only on a server without a usable pg_cron; the pg_cron path runs on a private cluster "
        "with pg_cron preloaded (tests/db/test_pg_cron.py)",
    ),
)


def required() -> bool:
    """True when skips are errors (``ALPR_TESTS_REQUIRE_ALL=1``)."""
    return os.environ.get(ENV, "") not in ("", "0")


def allowed(nodeid: str, reason: str) -> AllowedSkip | None:
    """The entry of :data:`ALLOWED` that lets ``nodeid`` skip with the message ``reason``, if any."""
    return next((a for a in ALLOWED if nodeid.startswith(a.test) and a.because in reason), None)


def _reason(longrepr: object) -> str:
    """The skip message of a skipped report's ``longrepr`` (a (file, line, message) tuple)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure(what: str, reason: str) -> str:
    return (
        f"{what} skipped, but {ENV}=1 makes skips errors: {reason}\n"
        f"Provide what is missing, or list the test with a reason in tests/skip_policy.py (ALLOWED)."
    )


_TAKEN = pytest.StashKey[list[tuple[str, AllowedSkip, str]]]()


def _taken(config: pytest.Config) -> list[tuple[str, AllowedSkip, str]]:
    """The allowed skips of this run: (node id, entry, the skip's own reason)."""
    return config.stash.setdefault(_TAKEN, [])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ARG001
    """A skipped test fails when skips are errors and the test is not allowed to skip."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and required()) or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    entry = allowed(item.nodeid, reason)
    if entry is not None:
        _taken(item.config).append((item.nodeid, entry, reason))
        return
    report.outcome = "failed"
    report.longrepr = _failure(item.nodeid, reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A module skipped at collection (``pytest.importorskip`` at import) fails the same way."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and required()):
        return
    reason = _reason(report.longrepr)
    if allowed(collector.nodeid, reason) is None:
        report.outcome = "failed"
        report.longrepr = _failure(collector.nodeid, reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the allowed skips that happened, and the policy, at the end of the run."""
    if not required():
        return
    tr = terminalreporter
    taken = _taken(tr.config)
    tr.section(f"allowed skips ({ENV}=1; the list: tests/skip_policy.py)")
    if not taken:
        tr.line("none skipped")
    for nodeid, entry, reason in taken:
        tr.line(f"{nodeid}: {entry.reason} [skip said: {reason}]")
