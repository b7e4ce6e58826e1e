#!/usr/bin/env bash
# Set up everything this project needs on a bare Debian 12 machine (no Docker):
# system packages (PostgreSQL 15 + partman + cron, Prometheus) and a Python virtual
# environment in .venv with the project installed (CPU-only: no torch).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
EXTRAS=${ALPR_EXTRAS:-all,dev}

if [ -x scripts/install-system-deps.sh ]; then
  bash scripts/install-system-deps.sh
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi
echo "[setup] installing the project with extras [$EXTRAS]"
start=$(date +%s)
.venv/bin/uv pip install --python .venv/bin/python -q -e ".[$EXTRAS]"
echo "[setup] python packages ready in $(( $(date +%s) - start )) s"
