"""The scalar path on a CPU without AVX2: the kernel tests re-run under qemu-user
emulating a Nehalem (SSE4.2, POPCNT, no AVX), which traps any AVX/AVX2/AVX-512
instruction as SIGILL. Proves the baseline build and the dispatch ladder."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

QEMU = shutil.which("qemu-x86_64")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 not installed (apt-get install qemu-user)")
@pytest.mark.skipif(os.environ.get("PYBITNET_UNDER_QEMU") == "1", reason="already emulated")
def test_kernels_on_a_cpu_without_avx2():
    # OpenBLAS (numpy's) picks its kernels from what leaks of the host CPU: on an AMD host under an
    # emulated Nehalem it chose Haswell's AVX2 kernels and numpy's import died of SIGILL. Pin it.
    env = {**os.environ, "PYBITNET_UNDER_QEMU": "1", "OPENBLAS_CORETYPE": "Nehalem"}
    env.pop("PYBITNET_ISA", None)
    probe = subprocess.run(
        [QEMU, "-cpu", "Nehalem", sys.executable, "-c", "import pybitnet; print(pybitnet.available_isas())"],
        env=env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "['scalar']"
    tests = [str(ROOT / "tests" / f) for f in ("test_pack.py", "test_xnor_gemm.py")]
    run = subprocess.run(
        [QEMU, "-cpu", "Nehalem", sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout


@pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 not installed (apt-get install qemu-user)")
def test_native_kernel_tests_on_a_cpu_without_avx2():
    """Every variant this CPU can run (the scalar ones) against its reference, without Python."""
    binary = ROOT / "build" / "native" / "test_kernels"
    if not binary.exists():
        pytest.skip("build/native/test_kernels not built (python setup.py build_native)")
    run = subprocess.run([QEMU, "-cpu", "Nehalem", str(binary)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "0 failures" in run.stdout and "skip xnor_gemm__avx2" in run.stdout  # the AVX2 rows were not run
