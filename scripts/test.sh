#!/usr/bin/env bash
# Set up, lint (scripts/lint.sh: ruff, mypy), then run the whole test suite: unit tests plus integration tests against the
# real local services (Tansu broker, dev schema registry, SeaweedFS S3, PostgreSQL),
# which the test fixtures start on free loopback ports and stop afterwards.
# Extra arguments go to pytest, e.g. scripts/test.sh -k edge -x
set -euo pipefail
cd "$(dirname "$0")/.."
ALPR_WITH_TEST_DEPS=1 ALPR_EXTRAS=${ALPR_EXTRAS:-all,dev,paddle} bash scripts/setup.sh
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
