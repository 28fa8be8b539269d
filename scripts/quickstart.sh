#!/usr/bin/env bash
# The quick start: set up, fetch MNIST, train the quick64 preset (~10 min on 2 CPU cores).
# Extra arguments go to `infogan train`, e.g. scripts/quickstart.sh --seed 3
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${INFOGAN_VENV:-.venv}"
"$VENV/bin/infogan" fetch-data
"$VENV/bin/infogan" train --preset quick64 --run-dir runs/quick64 --overwrite "$@"
echo "grids: runs/quick64/images/{fixed,varying_c1,varying_c2}/ (newest file = final model)"
