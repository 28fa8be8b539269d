#!/usr/bin/env bash
# The quick start: set up, fetch MNIST, train the start28 preset (about 2 minutes on 2 Xeon
# cores with AMX), evaluate it and write its report; the last line printed is the summary.
# Extra arguments go to `infogan train`, e.g. scripts/quickstart.sh --seed 3
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${INFOGAN_VENV:-.venv}"
RUN=runs/start28
"$VENV/bin/infogan" fetch-data
"$VENV/bin/infogan" train --preset start28 --run-dir "$RUN" --overwrite --no-report "$@"
"$VENV/bin/infogan" eval "$RUN" > "$RUN/eval.txt"
echo "evaluation: $RUN/eval.txt and $RUN/eval.json"
echo "grids: $RUN/images/{fixed,varying_c1,varying_c2}/ (newest file = final model)"
echo "explore it: $VENV/bin/infogan serve $RUN"
"$VENV/bin/infogan" report "$RUN"
