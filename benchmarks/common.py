"""Shared setup for the asv and pytest-benchmark suites: fixed seeds, ISA and
thread control, and the float32 baseline of every kernel.

The asv suite takes the ISA and the thread count from the environment, as
pybitnet does at import: asv.conf.json's ``env_nobuild`` matrix sets
``PYBITNET_ISA`` and ``PYBITNET_NUM_THREADS`` (one build, one run per value),
so a benchmark is named by its shape alone and asv keeps one result per
(ISA, threads) environment. Without them (``asv run --python=same``) the
benchmarks run the best ISA on every core.
"""
import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - asv env installs it; baseline then uses all BLAS threads
    threadpool_limits = None

ISA = pybitnet.isa()  # PYBITNET_ISA, else the best path this CPU has
NUM_THREADS = pybitnet.get_num_threads()  # PYBITNET_NUM_THREADS, else the cores we may run on

# The scalar reference is the plain loop: above this many multiply-accumulates a
# call takes seconds, so those shapes are skipped on the scalar path.
SCALAR_MAX_MACS = 1e8


def use_threads(n=None):
    """pybitnet and numpy's BLAS on the same thread count (default: the environment's),
    so ratios compare like with like."""
    n = NUM_THREADS if n is None else n
    pybitnet.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(n)


def skip_slow_scalar(macs):
    if ISA == "scalar" and macs > SCALAR_MAX_MACS:
        raise NotImplementedError("the scalar reference takes seconds at this shape")  # asv: skipped


def parse_shape(shape):
    """'100x4096x4096' -> (100, 4096, 4096)."""
    return tuple(int(v) for v in shape.split("x"))


def random_pm(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def random_ternary(shape, seed, keep=0.5):
    """±1 int8 with each element dropped to 0 with probability 1 - keep (dropout)."""
    rng = np.random.default_rng(seed)
    return (np.where(rng.standard_normal(shape) < 0, -1, 1) * (rng.random(shape) < keep)).astype(np.int8)


def _skip(why: str) -> NotImplementedError:
    """What to raise inside a timed function to skip it: asv (0.6+) skips on its
    SkipNotImplemented there, where a plain NotImplementedError (skipped in setup) fails."""
    try:
        from asv_runner.benchmarks.mark import SkipNotImplemented
    except ImportError:  # pytest-benchmark or a plain import
        return NotImplementedError(why)
    return SkipNotImplemented(why)


def torch_matmul(a, b):
    """A timed callable computing a @ b in PyTorch float32 on the same threads, on
    zero-copy views of the numpy operands; asv skips the benchmark without torch."""
    try:
        import torch
    except ImportError:
        raise _skip("PyTorch is not installed") from None
    torch.set_num_threads(NUM_THREADS)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return lambda: torch.matmul(ta, tb)
