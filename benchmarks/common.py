"""Shared setup for the asv and pytest-benchmark suites: fixed seeds, ISA and
thread control, and the float32 baseline of every kernel."""
import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - asv env installs it; baseline then uses all BLAS threads
    threadpool_limits = None

ISAS = ["avx512", "avx2", "scalar"]
THREADS = [1, 2]


def require_isa(isa):
    if isa not in pybitnet.available_isas():
        raise NotImplementedError(f"{isa} not available on this CPU")  # asv reports it as skipped


def use_threads(n):
    """pybitnet and numpy's BLAS on the same thread count, so ratios compare like with like."""
    pybitnet.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(n)


def random_pm(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def shape_name(m, k, n):
    return f"{m}x{k}x{n}"
