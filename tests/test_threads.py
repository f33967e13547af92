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


@pytest.mark.parametrize("first", ["numpy", "pybitnet"])
def test_blas_spin_warning(first):
    """numpy imported first keeps OpenBLAS's long spin: with both pools on 2 threads, training warns once
    (pybitnet.runtime.warn_if_blas_spin_slows_threads); imported after pybitnet, nothing to warn about."""
    pytest.importorskip("threadpoolctl")
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "PYBITNET_OPENBLAS_SPIN",
                                                             "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    other = "pybitnet" if first == "numpy" else "numpy"
    code = f"""
import {first}, {other}, warnings
import numpy as np
from threadpoolctl import threadpool_limits
import pybitnet
pybitnet.set_num_threads(2)
with threadpool_limits(2, user_api="blas"), warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    a = pybitnet.runtime.warn_if_blas_spin_slows_threads()
    b = pybitnet.runtime.warn_if_blas_spin_slows_threads()
    openblas = any(i["internal_api"] == "openblas" for i in __import__("threadpoolctl").threadpool_info())
print(a, b, len(caught), openblas)
"""
    out = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    a, b, n, openblas = out.stdout.split()
    if openblas != "True":
        pytest.skip("numpy's BLAS is not OpenBLAS here")
    want = first == "numpy"
    assert (a, b, n) == (str(want), str(want), "1" if want else "0"), out.stdout


# The cost model (threads.h), driven by scripted wall times: _simulate_thread_plan plans and records calls of
# a key no op uses, each taking cost x its estimate, and returns which calls were planned to split.
WORK_NS = 1e6  # 1 ms: above the inline-only bound


@pytest.fixture(autouse=True)
def fresh_thread_plans():
    yield
    pybitnet.reset_thread_plans()  # the tests below script the planner: later tests start it over


def simulate(split_cost, inline_cost):
    return pybitnet._bitops._simulate_thread_plan(pybitnet._bitops._FREE_SPLIT_KEY, WORK_NS, split_cost, inline_cost)


def free_key_plan():
    [row] = [r for r in pybitnet.thread_plans() if r["op"] == "?"]
    return row


def test_thread_plan_splits_when_splitting_is_faster():
    pybitnet.set_num_threads(2)
    pybitnet.reset_thread_plans()
    split = simulate([0.55] * 60, [1.0] * 60)
    assert all(split[:4]) and not any(split[4:7])  # 3 split samples (after the workers' first call), 3 inline
    assert sum(split[-40:]) >= 39  # then splits, trying inline rarely
    row = free_key_plan()
    assert row["splits"] and row["clearly"] and row["explore_every"] == 256
    assert row["split_median"] == pytest.approx(0.55) and row["inline_median"] == pytest.approx(1.0)


def test_thread_plan_stays_inline_when_splitting_is_slower():
    pybitnet.set_num_threads(2)
    pybitnet.reset_thread_plans()
    split = simulate([1.5] * 80, [1.0] * 80)
    assert sum(split[-40:]) <= 6  # tries only
    assert not free_key_plan()["splits"]


def test_thread_plan_recovers_from_slow_first_split_calls():
    # The first split calls slowed (page faults of a first step, another process on the other core), then
    # splitting is faster. Used to stick: inline tries faster than the 2 slow split samples set tries to every
    # call, so every call ran inline and split never got its third sample.
    pybitnet.set_num_threads(2)
    pybitnet.reset_thread_plans()
    n = 80
    split = simulate([10.0] * 3 + [0.55] * (n - 3), [1.0] * n)
    assert sum(split[-40:]) >= 38
    assert free_key_plan()["splits"]


def test_thread_plans_report_and_reset():
    pybitnet.set_num_threads(2)
    pybitnet.reset_thread_plans()
    assert pybitnet.thread_plans() == []
    simulate([0.6] * 10, [1.0] * 10)
    row = free_key_plan()
    assert row["calls"] == 10 and row["work_ms"][0] <= 1.0 < row["work_ms"][1]
    assert {"split_samples", "inline_samples", "split_median", "inline_median", "explore_every"} <= row.keys()
    assert row["measured"] == (row["split_samples"] >= 3 and row["inline_samples"] >= 3)
    pybitnet.reset_thread_plans()
    assert pybitnet.thread_plans() == []
    with pytest.raises(ValueError, match="free key"):
        pybitnet._bitops._simulate_thread_plan(0, WORK_NS, [1.0], [1.0])
