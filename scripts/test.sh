#!/usr/bin/env bash
# The test command: install what the tests need (Debian packages where possible, the
# pinned Python dev environment in .venv, the MNIST and Fashion-MNIST files, kept in
# data/ after the first time), then lint, check formatting and run the test suite on two
# workers. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh dev
VENV="${INFOGAN_VENV:-.venv}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/infogan" fetch-data
"$VENV/bin/python" scripts/prepare-tests.py
"$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
