#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer over the kernels, natively: builds
# build/native-sanitize/test_kernels (every variant of the registry against its
# reference, and the drivers with 1-3 threads; no Python, see tests/native/) with
# -fsanitize=address,undefined and runs it. Usage: bash scripts/sanitize.sh [variant substring]
#
# --python [pytest args]: also rebuild the extension sanitized and run the Python
# suite against it (all but the qemu run, which emulates the normal build, and
# PyTorch, whose own extension does not load under a preloaded ASan runtime; CPython
# is not instrumented, so libasan is preloaded and leak checking is off), then, with
# PYBITNET_SANITIZE_FUZZ=SECONDS, the fuzz harnesses; then restore the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
PYBITNET_SANITIZE=1 "$PYTHON" setup.py build_native >/dev/null 2>&1
if [ "${1:-}" != "--python" ]; then
  exec build/native-sanitize/test_kernels "$@"
fi
shift
build/native-sanitize/test_kernels
rm -rf build/sanitize
PYBITNET_SANITIZE=1 "$PYTHON" setup.py build_ext --inplace --build-temp build/sanitize --force >/dev/null 2>&1
trap '"$PYTHON" setup.py build_ext --inplace --force >/dev/null 2>&1' EXIT  # restore the normal build
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
"$PYTHON" -m pytest -q -p no:cacheprovider tests --deselect tests/test_no_avx2_cpu.py -k "not torch" "$@"
# PYBITNET_SANITIZE_FUZZ=SECONDS: also run each fuzz harness that long against this build.
if [ -n "${PYBITNET_SANITIZE_FUZZ:-}" ]; then
  PYBITNET_FUZZ_OUT=build/fuzz-sanitize PYTHON="$PYTHON" bash scripts/fuzz.sh "$PYBITNET_SANITIZE_FUZZ"
fi
