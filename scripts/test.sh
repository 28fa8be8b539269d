#!/usr/bin/env bash
# The test command: install what the tests need (Debian packages where possible, the
# pinned Python dev environment in .venv, the MNIST files), then lint, check formatting
# and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh dev
VENV="${INFOGAN_VENV:-.venv}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/infogan" fetch-data
"$VENV/bin/python" -m pytest "$@"
