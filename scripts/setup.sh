#!/usr/bin/env bash
# Create .venv (or $INFOGAN_VENV) with the pinned dependencies and the infogan package.
# Usage: scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${INFOGAN_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
REQ=requirements.txt
[[ "${1:-}" == "dev" ]] && REQ=requirements-dev.txt
stamp="$VENV/.installed-$(basename "$REQ" .txt)"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$stamp" || "$REQ" -nt "$stamp" || requirements.txt -nt "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    "$VENV/bin/python" -m pip install --quiet -r "$REQ"
    "$VENV/bin/python" -m pip install --quiet --no-deps -e .
    touch "$stamp"
fi
