#!/usr/bin/env bash
# One prepared GPU check, under 8 minutes on one GPU (each step has its own time limit; they add up to 7.8 minutes):
#   1. the CUDA tests (pytest -m gpu; CUDA-graph equivalence included),
#   2. the speed table: dip-skip and nasdip-sr at 256x256 and 512x512, width 128: the plain fp32 loop against
#      nasdip's engine, precision auto and forced fp32,
#   3. packed fits per minute (K = 1, 2, 4, 8 at 64x64/width 16 and 128x128/width 32), members exact and with
#      grouped convolutions,
#   4. a 12-candidate random search at search fidelity (64x64 crops, width 16, 200 steps),
#   5. time to a restored image: DIP's reference loop against nasdip restore (denoising and x4 SR, one image,
#      128x128, width 128),
#   6. CUDA graphs: one search-fidelity restoration (64x64, width 16, 500 steps) with and without them,
# then prints one summary (also written to $DIR/summary.txt).
#
#   bash benchmarks/gpu.sh                 # on a machine with CUDA (from the repository root)
#   bash benchmarks/gpu.sh --cpu-dry-run   # every step on the CPU at toy sizes: checks the script itself
#
# Environment: PYTHON (default .venv/bin/python), NASDIP (default .venv/bin/nasdip), DIR (outputs; default
# $OUT/gpu-check when $OUT is set, else gpu-check).
set -u -o pipefail

PYTHON=${PYTHON:-.venv/bin/python}
NASDIP=${NASDIP:-.venv/bin/nasdip}
DIR=${DIR:-${OUT:+$OUT/}gpu-check}
MODE=gpu
if [[ ${1:-} == --cpu-dry-run ]]; then
    MODE=cpu
elif [[ -n ${1:-} ]]; then
    echo "usage: bash benchmarks/gpu.sh [--cpu-dry-run]" >&2
    exit 2
fi

if [[ $MODE == gpu ]]; then
    DEVICE=cuda
    SPEED_ARGS=(--arch dip-skip --arch nasdip-sr --size 256 --size 512 --width 128)
    PACKED_ARGS=(--arch dip-skip --arch nasdip-sr --case 64:16 --case 128:32)
    MEMBERS=(--members 1 --members 2 --members 4 --members 8)
    GROUPED_MEMBERS=(--members 4 --members 8)
    SEARCH_ARGS=(--budget 12 --iters 200 --crop 64 --width 16)
    TTR_ARGS=(--task denoise --task sr --images 1)
    GRAPH_ARGS=(--crop 64 --width 16 --iters 500)
    LIMITS=(60 60 50 60 40 60 90 50)
    if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "Error: CUDA is not available here; use --cpu-dry-run to check the script on a CPU" >&2
        exit 1
    fi
else
    DEVICE=cpu
    SPEED_ARGS=(--arch dip-skip --size 16 --width 4)
    PACKED_ARGS=(--arch dip-skip --case 16:4)
    MEMBERS=(--members 1 --members 2)
    GROUPED_MEMBERS=(--members 2)
    SEARCH_ARGS=(--budget 2 --iters 4 --crop 16 --width 4)
    TTR_ARGS=(--quick --task denoise)
    GRAPH_ARGS=(--crop 16 --width 4 --iters 10)
    LIMITS=(120 120 120 120 120 120 120 120)
fi

mkdir -p "$DIR"
: > "$DIR/status.txt"

# step NAME LIMIT COMMAND...: run with a time limit, keep the output in $DIR/NAME.log, record status and seconds.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    echo "== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" > "$DIR/$name.log" 2>&1
    local code=$?
    local status=ok
    if [[ $code == 124 ]]; then status="timed out"; elif [[ $code != 0 ]]; then status="failed (exit $code)"; fi
    echo "$name: $status in $((SECONDS - start)) s" | tee -a "$DIR/status.txt"
}

step tests "${LIMITS[0]}" "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/nasdip/fit/test_engine.py \
    tests/nasdip/report/test_speed.py tests/nasdip/fit/test_packed.py tests/nasdip/fit/test_graphs.py
step speed-auto "${LIMITS[1]}" "$PYTHON" benchmarks/speed.py "${SPEED_ARGS[@]}" --device "$DEVICE"
step speed-fp32 "${LIMITS[2]}" "$PYTHON" benchmarks/speed.py "${SPEED_ARGS[@]}" --device "$DEVICE" --precision fp32
step packed "${LIMITS[3]}" "$PYTHON" benchmarks/packed.py "${PACKED_ARGS[@]}" "${MEMBERS[@]}" --device "$DEVICE"
step packed-grouped "${LIMITS[4]}" "$PYTHON" benchmarks/packed.py "${PACKED_ARGS[@]}" "${GROUPED_MEMBERS[@]}" \
    --device "$DEVICE" --grouped-max-pixels 1000000000
rm -rf "$DIR/search"
step search "${LIMITS[5]}" "$NASDIP" search --searcher random --task denoise "${SEARCH_ARGS[@]}" --device "$DEVICE" \
    --run-dir "$DIR/search" --quiet --json
step time-to-result "${LIMITS[6]}" "$PYTHON" benchmarks/time_to_result.py "${TTR_ARGS[@]}" --device "$DEVICE"
# graphs: the same restoration with CUDA graphs on, then off (one JSON line each)
step graphs "${LIMITS[7]}" bash -c 'for mode in on off; do "$0" restore --task denoise "${@:2}" --cuda-graphs $mode \
    --device "$1" --quiet --json --out "'"$DIR"'/graphs-$mode" || exit; done' "$NASDIP" "$DEVICE" "${GRAPH_ARGS[@]}"

{
    echo "===== SUMMARY ($MODE) ====="
    cat "$DIR/status.txt"
    echo "--- CUDA tests"
    tail -n 1 "$DIR/tests.log"
    for name in speed-auto speed-fp32 packed packed-grouped time-to-result; do
        echo "--- $name"
        grep -v "^== " "$DIR/$name.log" | tail -n 20
    done
    echo "--- search"
    "$PYTHON" - "$DIR/search.log" <<'EOF'
import json, sys
try:  # the summary is the last JSON line; warnings (stderr) may follow it
    lines = [line for line in open(sys.argv[1]).read().splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1])
except (OSError, ValueError, IndexError):
    print("no summary (see search.log)")
else:
    rate = summary["evaluated"] / summary["seconds"] * 60 if summary["seconds"] else float("nan")
    print(f"{summary['evaluated']} candidates evaluated ({summary['failed']} failed) in {summary['seconds']:.1f} s "
          f"({rate:.1f} per minute); best reward {summary['best_reward']}")
EOF
    echo "--- graphs"
    "$PYTHON" - "$DIR/graphs.log" <<'EOF'
import json, sys
try:
    runs = [json.loads(line) for line in open(sys.argv[1]).read().splitlines() if line.startswith("{")]
except (OSError, ValueError):
    runs = []
for run, mode in zip(runs, ("on", "off")):
    print(f"CUDA graphs {mode}: {run['iters']} steps, {run['seconds_per_step'] * 1000:.2f} ms per step "
          f"(graphed: {run['cuda_graphs']}), PSNR {run['psnr']:.2f} dB")
if len(runs) != 2:
    print("no result (see graphs.log)")
EOF
} | tee "$DIR/summary.txt"

! grep -qv ": ok in" "$DIR/status.txt"
