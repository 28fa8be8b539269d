#!/usr/bin/env bash
# Set up the dev environment, then lint, check formatting and run the test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
VENV="${INFOGAN_VENV:-.venv}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/infogan" fetch-data
"$VENV/bin/python" -m pytest "$@"
