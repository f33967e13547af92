"""Threads: settable count, GIL released, thread-safe, fork-safe."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pybitnet


@pytest.fixture(autouse=True)
def restore_threads():
    yield
    pybitnet.set_num_threads(pybitnet._bitops.default_num_threads())


def test_default_is_usable_cores():
    assert pybitnet._bitops.default_num_threads() == len(os.sched_getaffinity(0)) or (
        "PYBITNET_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ)


def test_set_get():
    pybitnet.set_num_threads(3)
    assert pybitnet.get_num_threads() == 3
    with pytest.raises(ValueError, match="n must be >= 1"):
        pybitnet.set_num_threads(0)


@pytest.mark.parametrize("var", ["PYBITNET_NUM_THREADS", "OMP_NUM_THREADS"])
def test_env_override(var):
    env = {k: v for k, v in os.environ.items() if k not in ("PYBITNET_NUM_THREADS", "OMP_NUM_THREADS")}
    env[var] = "3"
    out = subprocess.run([sys.executable, "-c", "import pybitnet; print(pybitnet.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "3", out.stderr


def test_concurrent_python_threads_get_correct_results():
    rng = np.random.default_rng(3)
    a = pybitnet.pack_signs(rng.standard_normal((200, 2000)).astype(np.float32))
    b = pybitnet.pack_signs(rng.standard_normal((600, 2000)).astype(np.float32))
    expected = pybitnet.xnor_gemm(a, b, 2000)
    pybitnet.set_num_threads(2)
    errors = []

    def work():
        for _ in range(10):
            if not np.array_equal(pybitnet.xnor_gemm(a, b, 2000), expected):
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_gil_is_released():
    """Another Python thread keeps running while a long kernel runs."""
    rng = np.random.default_rng(4)
    a = pybitnet.pack_signs(rng.standard_normal((2000, 4096)).astype(np.float32))
    pybitnet.set_num_threads(1)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    before = len(ticks)
    for _ in range(3):
        pybitnet._bitops.xnor_gemm(a, a, 4096, "scalar")  # tens of ms each
    stop.set()
    t.join()
    assert len(ticks) - before > 5


def test_fork_child_can_use_the_pool():
    code = """
import os, numpy as np, pybitnet
pybitnet.set_num_threads(2)
a = pybitnet.pack_signs(np.ones((600, 4096), np.float32))
pybitnet.xnor_gemm(a, a, 4096)  # starts the workers
pid = os.fork()
if pid == 0:
    ok = (pybitnet.xnor_gemm(a, a, 4096) == 4096).all()
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0", out.stderr


@pytest.mark.parametrize("code,env,expected", [
    ("import pybitnet", {}, "4"),  # before numpy: OpenBLAS's idle spin is shortened
    ("import numpy, pybitnet", {}, "None"),  # too late: numpy loaded OpenBLAS already
    ("import pybitnet", {"PYBITNET_OPENBLAS_SPIN": "keep"}, "None"),
    ("import pybitnet", {"OPENBLAS_THREAD_TIMEOUT": "20"}, "20"),  # the user's choice stands
])
def test_openblas_spin_policy(code, env, expected):
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "PYBITNET_OPENBLAS_SPIN")}
    out = subprocess.run([sys.executable, "-c", code + "; import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
                         env={**base, **env}, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == expected, out.stderr
