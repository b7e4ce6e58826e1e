#!/usr/bin/env bash
# Static checks, run before the tests (scripts/test.sh): ruff over the repository (rules in
# pyproject.toml; the code is formatted as `ruff format` writes it) and mypy --strict over the
# pure core (operators/) and the wire formats (schemas/).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict operators schemas
