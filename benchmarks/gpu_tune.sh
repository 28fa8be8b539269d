#!/usr/bin/env bash
# One GPU session's measurements, on a machine with PyTorch but no network:
#   1. the trainer's speed on the GPU (fp32, bf16, torch.compile) for seed64 and paper28;
#   2. the paper28 candidates of benchmarks/sweeps/paper28.json over 3 seeds on the
#      validation split, all at once on the one GPU, stopped at a deadline.
# The package travels as source (src/ on PYTHONPATH) and MNIST as the four .gz files in
# $DATA. Results go to $OUT (default runs/gpu): gpu_speed_*.json, sweep.json, and a
# tarball of the sweep's logs and final grids.
#
#   OUT=runs/gpu DATA=.gpu/data bash benchmarks/gpu_tune.sh
# Smaller, for a try on a CPU with the project's environment and its unpacked MNIST:
#   PY=.venv/bin/python DATA=data MAX_STEPS=20 SEEDS=1 DEADLINE=1 DEVICE=cpu SPEED=0 \
#     PARALLEL=1 ONLY=base-b64 OUT=/tmp/tune bash benchmarks/gpu_tune.sh
# Settings come from the environment only (PY, DATA, OUT, MAX_STEPS, SEEDS, DEADLINE,
# DEVICE, PARALLEL, SPEED, ONLY); -h or --help prints this.
set -u
case "${1:-}" in
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "gpu_tune.sh: error: no arguments ($1): settings come from the environment; see --help" >&2
       exit 2 ;;
esac
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
DATA=${DATA:-.gpu/data}
MAX_STEPS=${MAX_STEPS:-4000}
SEEDS=${SEEDS:-3}
DEADLINE=${DEADLINE:-4.5}
DEVICE=${DEVICE:-cuda}
PARALLEL=${PARALLEL:-36}
SPEED=${SPEED:-1}
ONLY=${ONLY:-}
PY=${PY:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "gpu_tune.sh: error: $PY cannot import torch; name a Python that can with PY=" >&2
    exit 1
fi
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src:$PWD/benchmarks PYTHONUNBUFFERED=1

"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
"$PY" -m infogan fetch-data --data-dir "$DATA" || exit 1

if [ "$SPEED" = 1 ]; then
    timeout 150 "$PY" benchmarks/gpu_speed.py --data-dir "$DATA" --presets seed64 \
        --rounds 3 --steps 60 --warmup 20 --json "$OUT/gpu_speed_seed64.json"
    timeout 50 "$PY" benchmarks/gpu_speed.py --data-dir "$DATA" --presets paper28 \
        --variants fp32,bf16 --rounds 3 --steps 60 --warmup 20 --json "$OUT/gpu_speed_paper28.json"
fi

sweep=$(mktemp -d)
trap 'rm -rf "$sweep"' EXIT  # the runs: what is kept goes into the tarball
"$PY" benchmarks/sweep.py benchmarks/sweeps/paper28.json ${ONLY:+--only "$ONLY"} \
    --device "$DEVICE" --seeds "$SEEDS" --max-steps "$MAX_STEPS" \
    --at 500,1000,1500,2000,2500,3000,4000 --eval-every 100 --parallel "$PARALLEL" \
    --deadline-minutes "$DEADLINE" --data-dir "$DATA" --out "$sweep" --json "$OUT/sweep.json"
(cd "$sweep" && tar czf - */log.txt */quality.json */seed-*/metrics.csv \
    $(ls -d */seed-*/images/fixed 2>/dev/null)) > "$OUT/sweep-runs.tgz"
ls -la "$OUT"
