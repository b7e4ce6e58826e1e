#!/usr/bin/env bash
# Set up everything this project needs on a bare Debian 12 machine (no Docker):
# system packages (PostgreSQL 15 + partman + cron, Prometheus) and a Python virtual
# environment in .venv with the project installed (CPU-only: no torch).
# Idempotent: re-running only installs what is missing.
#
# Python: the dataflow runtime (bytewax 0.21.1) publishes wheels for CPython 3.8-3.12 only, so
# the project needs Python 3.11 or 3.12 (docs/python.md). The interpreter is, in this order:
# the one of an existing .venv; $PYTHON; python3.12, python3.11 or python3 on PATH when it is
# 3.11/3.12; a 3.12 that `uv python install` provides where the network allows. Otherwise the
# script stops at once, before installing anything, and says what to install.
#   scripts/setup.sh --print-python    # only print the interpreter it would use (exit 1: none)
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS=${ALPR_EXTRAS:-all,dev}
SUPPORTED="3.11 or 3.12"
NEED="this project needs Python $SUPPORTED (bytewax 0.21.1, the dataflow runtime, has no wheels for newer CPython)"
HOWTO="get one with 'uv python install 3.12' (any distribution), 'dnf install python3.12' (Fedora), 'apt install python3.12' (Ubuntu 24.04; deadsnakes PPA on later Ubuntu) or 'pyenv install 3.12', then re-run: PYTHON=/path/to/python3.12 $0"

# The X.Y of an interpreter, or nothing when it does not run (e.g. a pyenv shim of a version
# that is not selected).
py_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

supported() {
  case "$1" in 3.11 | 3.12) return 0 ;; *) return 1 ;; esac
}

pick_python() {
  local cand ver found=""
  if [ -n "${PYTHON:-}" ]; then
    ver=$(py_version "$PYTHON")
    if ! supported "$ver"; then
      echo "error: PYTHON=$PYTHON is Python ${ver:-that does not run}; $NEED; $HOWTO" >&2
      return 1
    fi
    [ -x .venv/bin/python ] || { echo "$PYTHON"; return 0; }
  fi
  if [ -x .venv/bin/python ]; then
    ver=$(py_version .venv/bin/python)
    if supported "$ver"; then
      echo .venv/bin/python
      return 0
    fi
    echo "error: .venv was made with Python ${ver:-that no longer runs}; $NEED. Remove .venv ('rm -rf .venv') and re-run with a supported Python; $HOWTO" >&2
    return 1
  fi
  for cand in python3.12 python3.11 python3; do
    command -v "$cand" >/dev/null 2>&1 || continue
    ver=$(py_version "$cand")
    if supported "$ver"; then
      command -v "$cand"
      return 0
    fi
    [ -n "$ver" ] && found="$found $cand=$ver"
  done
  if command -v uv >/dev/null 2>&1; then
    echo "[setup] no Python $SUPPORTED on PATH; trying 'uv python install 3.12'" >&2
    # No retries: without network this fails in well under a second instead of ~10 s.
    if UV_HTTP_RETRIES=0 timeout 300 uv python install 3.12 >&2; then
      cand=$(uv python find --managed-python 3.12 2>/dev/null || uv python find 3.12 2>/dev/null || true)
      if [ -n "$cand" ] && supported "$(py_version "$cand")"; then
        echo "$cand"
        return 0
      fi
    fi
  fi
  echo "error: no Python $SUPPORTED found (on PATH:${found:- none}); $NEED; $HOWTO" >&2
  return 1
}

PY=$(pick_python) || exit 1
if [ "${1:-}" = "--print-python" ]; then
  echo "$PY"
  exit 0
fi

if [ -x scripts/install-system-deps.sh ]; then
  bash scripts/install-system-deps.sh
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi
echo "[setup] installing the project with extras [$EXTRAS]"
start=$(date +%s)
.venv/bin/uv pip install --python .venv/bin/python -q -e ".[$EXTRAS]"
echo "[setup] python packages ready in $(( $(date +%s) - start )) s"
