#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer over the kernels, natively: builds
# build/native-sanitize/test_kernels (every variant of the registry against its
# reference, and the drivers with 1-3 threads; no Python, see tests/native/) with
# -fsanitize=address,undefined and runs it. Usage: bash scripts/sanitize.sh [variant substring]
#
# --python [pytest args]: also rebuild the extension sanitized and run the Python
# suite against it (CPython is not instrumented, so libasan is preloaded and leak
# checking is off; the qemu and PyTorch tests are left out), then restore the build.
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
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  "$PYTHON" -m pytest -q -p no:cacheprovider tests --deselect tests/test_no_avx2_cpu.py -k "not torch" "$@"
