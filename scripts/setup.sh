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
    # --no-compile: pip byte-compiles one file at a time, half a minute for torch alone.
    # The dev environment compiles everything on both cores instead (its tests start many
    # processes; files written for newer Pythons fail to compile, as they do under pip);
    # the plain one compiles what infogan imports, by importing it.
    "$VENV/bin/python" -m pip install --quiet --no-compile -r "$REQ"
    "$VENV/bin/python" -m pip install --quiet --no-compile --no-deps -e .
    if [[ "$REQ" == requirements-dev.txt ]]; then
        "$VENV/bin/python" -m compileall -q -j 0 "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true
    else
        PYTHONDONTWRITEBYTECODE= "$VENV/bin/python" -c "import infogan.cli, infogan.training.run, infogan.evaluate.metrics, infogan.evaluate.factors, infogan.report.figures, infogan.web.server"
    fi
    touch "$stamp"
fi
