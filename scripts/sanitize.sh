#!/usr/bin/env bash
# Build the extension with AddressSanitizer + UndefinedBehaviorSanitizer and run
# the test suite against it (all but the qemu run, which emulates the normal build,
# and PyTorch, whose own extension does not load under a preloaded ASan runtime), then, with
# PYBITNET_SANITIZE_FUZZ=SECONDS, the fuzz harnesses. Usage: bash scripts/sanitize.sh [pytest args]
# Python itself is not instrumented, so libasan is preloaded; leak checking is
# off because CPython's allocator keeps memory until exit by design.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
rm -rf build/sanitize
PYBITNET_SANITIZE=1 "$PYTHON" setup.py build_ext --inplace --build-temp build/sanitize --force >/dev/null 2>&1
trap '"$PYTHON" setup.py build_ext --inplace --force >/dev/null 2>&1' EXIT  # restore the normal build
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$PYTHON" -m pytest -q -p no:cacheprovider tests --deselect tests/test_no_avx2_cpu.py -k "not torch" "$@"
# PYBITNET_SANITIZE_FUZZ=SECONDS: also run each fuzz harness that long against this build.
if [ -n "${PYBITNET_SANITIZE_FUZZ:-}" ]; then
  PYBITNET_FUZZ_OUT=build/fuzz-sanitize PYTHON="$PYTHON" bash scripts/fuzz.sh "$PYBITNET_SANITIZE_FUZZ"
fi
