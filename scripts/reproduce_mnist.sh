#!/usr/bin/env bash
# The MNIST reproductions of docs/RESULTS.md, on the schedule a 2-core CPU affords.
# Resumable: re-running continues every run from its runs/<name>/last.npz.
#   EPOCHS_SCALE=2 bash scripts/reproduce_mnist.sh     # longer schedules
# Each line: method, epochs, extra options (the paper's recipe otherwise; see pybitnet/recipes.py).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYBITNET_DATA="${PYBITNET_DATA:-$(cd .. && pwd)/shared/data}"
scale=${EPOCHS_SCALE:-1}
run() {
  local name=$1 method=$2 epochs=$3; shift 3
  pybitnet train --dataset mnist --method "$method" --epochs $((epochs * scale)) --out "runs/mnist-$name" \
    --no-progress "$@"
}
run float     float     40
run bnn       bnn       24
run tc-qbp    tc-qbp    40
run bc        bc-stoch  32
run bc-qbp    bc-qbp    32
run bnn-shift bnn-shift 20
python scripts/results_table.py runs/mnist-*   # the table of docs/RESULTS.md
