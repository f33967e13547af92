#!/usr/bin/env bash
# Coverage-guided fuzzing (atheris, libFuzzer) of the kernel bindings, the model and
# checkpoint loaders and the data parsers: fuzz/fuzz_{kernels,loaders,data}.py.
#
#   bash scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]   # default: 60 s each, all three
#
# Corpora grow in build/fuzz/corpus-<harness> (kept between runs); a finding is written to
# build/fuzz/artifacts-<harness>/ and fails the script, with the harness's log tail.
# Reproduce one: python fuzz/fuzz_<harness>.py build/fuzz/artifacts-<harness>/crash-...
# PYBITNET_FUZZ_SEED=N fixes libFuzzer's seed (CI does, so a run is repeatable).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
SECONDS_EACH=${1:-60}
shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=(kernels loaders data)
OUT=${PYBITNET_FUZZ_OUT:-build/fuzz}
status=0
for h in "${HARNESSES[@]}"; do
  mkdir -p "$OUT/corpus-$h" "$OUT/artifacts-$h"
  log="$OUT/fuzz_$h.log"
  if PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "fuzz/fuzz_$h.py" -max_total_time="$SECONDS_EACH" \
      -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$OUT/artifacts-$h/" \
      ${PYBITNET_FUZZ_SEED:+-seed=$PYBITNET_FUZZ_SEED} \
      "$OUT/corpus-$h" >"$log" 2>&1; then
    echo "fuzz_$h: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)s, no findings"
  else
    status=1
    echo "fuzz_$h: FINDING (log $log, inputs in $OUT/artifacts-$h/):"
    grep -v '^"' "$log" | tail -40
  fi
done
exit $status
