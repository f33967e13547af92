"""Shared setup of the atheris harnesses: import paths and coverage instrumentation.

Only pybitnet's Python code (and the shared kernel cases) is instrumented for coverage:
the C++ extension is built with gcc, not clang's -fsanitize=fuzzer, so a crash in it is
caught as the process dying (and, under scripts/sanitize.sh's build, by ASan/UBSan).
"""
import os
import sys

import atheris

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

with atheris.instrument_imports(include=["pybitnet", "kernel_cases"]):
    import pybitnet  # noqa: F401
    import pybitnet.checkpoint  # noqa: F401
    import pybitnet.data  # noqa: F401
    import pybitnet.inference  # noqa: F401
    import kernel_cases  # noqa: F401


def run(test_one_input, seeds=()):
    """atheris.Setup + Fuzz. The `seeds` (bytes) go to a fresh directory appended to the
    command line's corpus directories (libFuzzer writes new inputs to the first one)."""
    import tempfile

    argv = list(sys.argv)
    if seeds:
        seed_dir = tempfile.mkdtemp(prefix="pybitnet-fuzz-seeds-")
        for i, s in enumerate(seeds):
            with open(os.path.join(seed_dir, f"seed{i}"), "wb") as f:
                f.write(s)
        argv.append(seed_dir)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
