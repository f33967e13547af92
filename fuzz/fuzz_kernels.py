"""Coverage-guided fuzzing of the kernel bindings (atheris).

Each input picks one of two modes:
- a kernel case of tests/kernel_cases.py (valid operands of fuzzed shapes, layouts
  and values, every ISA, checked against numpy or the scalar reference);
- abuse: a public function called with arbitrary arguments, where only a result,
  TypeError or ValueError is acceptable.
A wrong result or another exception raises (a finding); a crash kills the process.

    python fuzz/fuzz_kernels.py -max_total_time=60        # see scripts/fuzz.sh, docs/DEVELOPING.md
"""
import sys

import atheris

import _setup
from kernel_cases import CASES, AtherisSource, abuse

NAMES = sorted(CASES)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    src = AtherisSource(fdp)
    mode = fdp.ConsumeIntInRange(0, len(NAMES))
    if mode == len(NAMES):
        abuse(src)
    else:
        CASES[NAMES[mode]](src)


if __name__ == "__main__":
    _setup.run(test_one_input, seeds=[bytes([i]) + bytes(64) for i in range(len(NAMES) + 1)])
