#!/usr/bin/env bash
# The main job on its embedded default: set up, start the local services, run the sample
# clip through `alpr edge` and `python -m bytewax.run flows.plates`, then print the stored
# reads from SQL with their crop URLs. Stop the services afterwards with:
#   .venv/bin/alpr services down
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/alpr demo "$@"
