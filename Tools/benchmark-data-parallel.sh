#!/usr/bin/env bash
# Training throughput of the same networks on this machine's cores used two ways: one process
# with 2 OpenBLAS threads (`d2l <model> --threads 2`) against two processes with 1 thread each
# (`mpirun -np 2 d2l <model> --threads 1`, data-parallel, same global batch). Prints the CPU,
# the OpenBLAS kernel, the load average before each run and examples/s as `d2l` reports them
# (training loop of one epoch of --train-limit examples, the book's batch size).
#
#   Tools/benchmark-data-parallel.sh                 # LeNet (10240 examples) and GoogLeNet (1024)
#   Tools/benchmark-data-parallel.sh lenet=60000     # one network, another limit
#   Tools/benchmark-data-parallel.sh --smoke         # tiny limits: checks that the script works
#
# Figures are only worth quoting from a quiet machine (load average below 0.5 at the start).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=("lenet=10240" "googlenet=1024")
if [ "${1:-}" = "--smoke" ]; then
    runs=("lenet=512" "googlenet=256")
    shift
fi
if [ $# -gt 0 ]; then runs=("$@"); fi

d2l="$PWD/.build/release/d2l"
if [ ! -x "$d2l" ]; then swift build -c release --product d2l; fi
if ! command -v mpirun > /dev/null; then
    echo "benchmark-data-parallel: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "cpu: $("$d2l" blas | awk -F': *' '/^cpu:/ { print $2 }'), $(nproc) cores; OpenBLAS $("$d2l" blas | awk '/^core:/ { print $2 }')"
printf '%-10s %8s  %-28s %-28s %s\n' model examples "1 process x 2 threads" "2 processes x 1 thread" "2x1 / 1x2"

# examples/s from the summary line `N examples/sec on CPU (...)`.
rate() { awk '/examples\/sec on CPU/ { print $1 }'; }
load() { cut -d' ' -f1 /proc/loadavg; }

for entry in "${runs[@]}"; do
    model=${entry%%=*}
    limit=${entry#*=}
    common=("$model" --epochs 1 --train-limit "$limit" --test-limit 16)
    load1=$(load)
    one=$("$d2l" "${common[@]}" --threads 2 --resume "$work/one-$model.safetensors" | rate)
    load2=$(load)
    two=$(mpirun --oversubscribe -np 2 "$d2l" "${common[@]}" --threads 1 --resume "$work/two-$model.safetensors" | rate)
    ratio=$(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", b / a }')
    printf '%-10s %8s  %-28s %-28s %s\n' "$model" "$limit" "$one ex/s (load $load1)" "$two ex/s (load $load2)" "$ratio"
done
