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
# Smaller, for a try on a CPU: MAX_STEPS=20 SEEDS=1 DEADLINE=1 DEVICE=cpu SPEED=0 ...
set -u
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
"$PY" benchmarks/sweep.py benchmarks/sweeps/paper28.json ${ONLY:+--only "$ONLY"} \
    --device "$DEVICE" --seeds "$SEEDS" --max-steps "$MAX_STEPS" \
    --at 500,1000,1500,2000,2500,3000,4000 --eval-every 100 --parallel "$PARALLEL" \
    --deadline-minutes "$DEADLINE" --data-dir "$DATA" --out "$sweep" --json "$OUT/sweep.json"
(cd "$sweep" && tar czf - */log.txt */quality.json */seed-*/metrics.csv \
    $(ls -d */seed-*/images/fixed 2>/dev/null)) > "$OUT/sweep-runs.tgz"
ls -la "$OUT"
