#!/usr/bin/env bash
# The GPU numbers docs/speed.md waits for, in one call of under 10 minutes:
#   1. the eager step against the step captured as a CUDA graph (gpu_speed.py), fp32 and
#      bf16, for seed64 and tilt64;
#   2. seed64's full run (80 epochs) as `infogan train` runs it on a GPU, evaluated and
#      reported (full_run.py).
# The package travels as source (src/ on PYTHONPATH); MNIST as the four .gz files in
# $DATA (the machine has no network; 11 MB where the unpacked files are 55), made here by
#   mkdir -p .gpu/data && for f in data/*-ubyte; do gzip -kc $f >.gpu/data/${f#data/}.gz; done
# and carried as .gpu. What comes back goes to $OUT: the two JSON records, the run's final
# grids and curves, and the log.
#
#   OUT=$OUT DATA=.gpu/data bash benchmarks/gpu_check.sh
# A try on a CPU (bf16 there can be slow emulation, so fp32 only), about 3 minutes, with
# the project's environment and its unpacked MNIST:
#   PY=.venv/bin/python DATA=data DEVICE=cpu VARIANTS=fp32,fp32+graph ROUNDS=1 STEPS=1 \
#     WARMUP=1 MAX_STEPS=4 OUT=/tmp/check bash benchmarks/gpu_check.sh
# Settings come from the environment only (PY, DATA, OUT, DEVICE, VARIANTS, ROUNDS, STEPS,
# WARMUP, MAX_STEPS); -h or --help prints this.
set -u
case "${1:-}" in
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "gpu_check.sh: error: no arguments ($1): settings come from the environment; see --help" >&2
       exit 2 ;;
esac
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
DATA=${DATA:-.gpu/data}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-60}  # timed steps a round and variant
WARMUP=${WARMUP:-20}  # steps before timing (the capture happens in them)
MAX_STEPS=${MAX_STEPS:-}  # cut the full run short (a try)
VARIANTS=${VARIANTS:-fp32,fp32+graph,bf16,bf16+graph}
ROUNDS=${ROUNDS:-3}
PY=${PY:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "gpu_check.sh: error: $PY cannot import torch; name a Python that can with PY=" >&2
    exit 1
fi
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
exec > >(tee "$OUT/gpu_check.log") 2>&1

"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
"$PY" -m infogan fetch-data --data-dir "$DATA" || exit 1

timeout 150 "$PY" benchmarks/gpu_speed.py --data-dir "$DATA" --device "$DEVICE" \
    --presets seed64,tilt64 --variants "$VARIANTS" --rounds "$ROUNDS" --steps "$STEPS" \
    --warmup "$WARMUP" --json "$OUT/gpu_speed_graph.json"
status=$?
[ $status -eq 124 ] && echo "gpu_speed.py ran past its 150 s and was stopped: no gpu_speed_graph.json"
[ $status -ne 0 ] && [ $status -ne 124 ] && echo "gpu_speed.py failed (exit status $status)"

# the full run fits the call only as a graph (eager, seed64's 80 epochs took 7.4 minutes);
# without gpu_speed's record it is tried anyway, under its own time limit
if [ "$DEVICE" != cpu ] && [ -f "$OUT/gpu_speed_graph.json" ] && ! "$PY" -c "import json, sys; \
r = json.load(open(sys.argv[1])); \
sys.exit(r['results'][0]['variants'].get('fp32+graph', {}).get('step') != 'graph')" \
        "$OUT/gpu_speed_graph.json"; then
    echo "seed64's step did not run as a CUDA graph (see above): no full run in this call"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT  # the run's checkpoints: what is kept was copied to $OUT
run=$tmp/full-seed64
timeout 420 "$PY" benchmarks/full_run.py --data-dir "$DATA" --device "$DEVICE" --no-progress \
    --run-dir "$run" --json "$OUT/full_run_seed64.json" ${MAX_STEPS:+--max-steps "$MAX_STEPS"}
for figure in grid_random grid_c1 grid_c2 loss_curves d_probabilities; do
    cp "$run/figures/$figure.png" "$OUT/" 2>/dev/null
done
ls "$OUT"
