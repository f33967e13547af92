"""Run-time facts and knobs: the active ISA path, CPU features, threads."""
from __future__ import annotations

import contextlib

from . import _bitops
from ._arrays import as_size


def isa() -> str:
    """The instruction-set path the kernels use: ``"avx512"``, ``"avx2"`` or ``"scalar"``.

    Chosen once at import: the best path the CPU (CPUID) and the OS (XGETBV)
    support, unless the environment variable ``PYBITNET_ISA`` forces one.
    """
    return _bitops.isa()


def available_isas() -> list[str]:
    """The ISA paths this CPU can run, best first; always ends with ``"scalar"``."""
    return list(_bitops.available_isas())


def cpu_features() -> dict[str, bool]:
    """CPU features as detected (CPUID, with OS register-state support from XGETBV)."""
    return dict(_bitops.cpu_features())


def variants() -> list[dict[str, str]]:
    """The registry of kernel variants of this build (src/bitops/variants.inc), one
    dict per variant: ``op``, ``isa``, ``name`` and ``when``, the shape condition
    (of the call's ``m``, ``n``, ``k``) under which it is the one to run.

    A call runs the first variant of its op, from the active ISA down to scalar,
    whose condition holds; every variant computes the op for every shape, and
    ``isa=<variant name>`` on the private bindings forces one (tests, benchmarks).
    """
    return [dict(v) for v in _bitops.variants()]


def active_kernels() -> dict[str, dict[str, object]]:
    """Per kernel: the variant that runs for each shape class at the active ISA
    (in the order they are tried), and the ISAs this CPU can run.

    >>> pybitnet.active_kernels()["binary_weight_matmul_t"]["variants"]
    {'m >= 16 && k >= 128': 'binary_weight_matmul_t_lut__avx512', 'otherwise': 'binary_weight_matmul_t__avx512'}

    An op with no variant of its own at the active ISA runs the next lower
    ISA's (the variant's name says which). ``binary_conv2d_threshold`` and
    ``bitplane_matmul`` (the bit-plane first layer: the XNOR GEMM of packed
    planes + ``bitplane_combine``, or, without vector popcount, ``bitplane_bytes``)
    are composites: their entries name the kernels their drivers run.
    """
    avail = available_isas()
    return {op: {"variants": {when: name for when, name, _ in classes}, "available": avail}
            for op, classes in _bitops.shape_classes().items()}


def select_variant(op: str, m: int, n: int, k: int, isa: str = "") -> str:
    """The variant a call of `op` of shape (m, n, k) runs at `isa` (default: the active one).

    What m, n and k are is op-specific (src/bitops/ops.inc): e.g. for the weight
    matmuls the rows of the activations, the weight rows and the columns.
    """
    sizes = (as_size(v, name, hi=2**63) for name, v in (("m", m), ("n", n), ("k", k)))
    return _bitops.select_variant(op, *sizes, isa)


def kernel_calls(by: str = "variant") -> dict[str, dict[str, int]]:
    """How many times each kernel ran since import: ``{op: {variant: calls}}``, or
    with ``by="isa"`` ``{op: {isa: calls}}`` (the ISA each variant was compiled for)."""
    calls = {op: dict(per_variant) for op, per_variant in _bitops.kernel_calls().items()}
    if by == "variant":
        return calls
    if by != "isa":
        raise ValueError(f"by must be 'variant' or 'isa', got {by!r}")
    isa_of = {v["name"]: v["isa"] for v in _bitops.variants()}
    out = {op: {name: 0 for name in _bitops.isa_names()} for op in calls}
    for op, per_variant in calls.items():
        for name, n in per_variant.items():
            out[op][isa_of[name]] += n
    return out


def get_num_threads() -> int:
    """Threads the kernels may use (the calling thread included)."""
    return _bitops.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the threads the kernels may use (``n >= 1``).

    The default is the number of cores this process may run on, or
    ``PYBITNET_NUM_THREADS`` / ``OMP_NUM_THREADS`` when set. Small problems
    (e.g. batch-1 inference) always run on the calling thread alone.
    """
    import operator

    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an int, got {type(n).__name__}") from None
    _bitops.set_num_threads(n)  # ValueError unless 1 <= n <= _bitops.MAX_THREADS


def thread_plans() -> list[dict]:
    """What the thread cost model has measured: one dict per op and size class it has timed.

    A call whose estimated single-thread time is below ~0.15 ms always runs on the calling thread,
    except a native MLP forward (``packed_mlp``, ``packed_mlp_pixels``, ``packed_mlp_bitplanes``:
    a small batch through layers each below that bound, run as one job of phases), planned from
    ~0.01 ms estimated (its first size class starts there, though ``work_ms`` reads 0.15). Above,
    whether splitting over the threads pays is measured per op and size class (a factor of 2 in
    estimated time, ``work_ms``): the recent wall times per estimated time of split and inline
    calls (``split_median``, ``inline_median``: 1.0 = the estimate; lower is faster), whether both
    ways have the samples the choice needs (``measured``), whether calls now split (``splits``;
    ``clearly``: by at least 1.25x), how many calls were planned (``calls``)
    and how often the other way is tried (``explore_every``: every n-th call). Calls made on one
    thread count as inline samples. Use it to see why two threads run no faster than one, e.g.
    after another process held the second core."""
    return _bitops.split_stats()


def reset_thread_plans() -> None:
    """Forget the thread cost model's measurements; the next calls measure both ways again."""
    _bitops.reset_split_stats()


def build_info() -> dict[str, str]:
    """How the extension was built (version, compile flags)."""
    return {"version": _bitops.__version__, "flags": _bitops.build_flags}


def _openblas_timeout() -> str:
    import os

    return os.environ.get("OPENBLAS_THREAD_TIMEOUT", "").strip()


def _openblas_spin_short() -> bool:
    timeout = _openblas_timeout()
    return timeout.isdigit() and int(timeout) <= 10


def openblas_spin_note() -> str:
    """How numpy's OpenBLAS threads wait between calls, as it affects pybitnet's threads."""
    if _openblas_spin_short():
        return (f"short (OPENBLAS_THREAD_TIMEOUT={_openblas_timeout()}): idle OpenBLAS threads sleep, "
                "pybitnet keeps both cores")
    return ("long (OpenBLAS default): right after a numpy BLAS call its idle threads spin for ~0.1 s and can hold "
            "the core a second pybitnet thread needs; import pybitnet before numpy, or set "
            "OPENBLAS_THREAD_TIMEOUT=4, to avoid it")


def blas_spin_slows_threads() -> bool:
    """True when numpy's OpenBLAS keeps its default long spin (numpy was imported before pybitnet,
    and ``OPENBLAS_THREAD_TIMEOUT`` is not set short) while both it and pybitnet run more than one
    thread: after every BLAS call OpenBLAS's idle threads then hold the cores pybitnet's workers
    need. False where threadpoolctl, which tells OpenBLAS's thread count, is not installed."""
    if _openblas_spin_short() or get_num_threads() < 2:
        return False
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    return any(i.get("internal_api") == "openblas" and i.get("num_threads", 1) > 1 for i in threadpool_info())


_warned_blas_spin = False


def warn_if_blas_spin_slows_threads(stacklevel: int = 2) -> bool:
    """Warn (a RuntimeWarning, once per process) when :func:`blas_spin_slows_threads`; returns whether
    it holds. Training calls it: a BNN MNIST step that alternates pybitnet's kernels with numpy's
    BLAS ran as slowly on 2 threads as on 1 with numpy imported first (68 ms, Zen 5 VM), against 46
    ms with pybitnet imported first (docs/KERNELS.md, "Threads")."""
    global _warned_blas_spin
    slow = blas_spin_slows_threads()
    if slow and not _warned_blas_spin:
        import warnings

        _warned_blas_spin = True
        warnings.warn("numpy's OpenBLAS keeps its default idle spin (numpy was imported before pybitnet, or "
                      "PYBITNET_OPENBLAS_SPIN=keep): its threads spin for ~0.1 s after every BLAS call and hold "
                      "the core pybitnet's second thread needs (a BNN training step on 2 threads measured as slow "
                      "as on 1). Import pybitnet before numpy (it then shortens the spin), or start Python with "
                      "OPENBLAS_THREAD_TIMEOUT=4 in the environment.",
                      RuntimeWarning, stacklevel=stacklevel + 1)
    return slow


@contextlib.contextmanager
def reuse_memory():
    """Within the block, numpy arrays (pybitnet's results included) come from a cache of freed blocks.

    A training step allocates the same large temporaries every step; glibc gives freed blocks of that
    size back to the OS, so each step faults their pages in again (with numpy's huge-page advice, a
    2 MiB page zeroed per fault, at times after a compaction): 10-20 ms of a 200 ms CIFAR-10 BNN step
    on 2 threads. Here a freed block of 1 MiB or more waits for the next request of the same size
    (up to 1 GiB kept in all; :func:`release_memory` frees them). A numpy allocation handler (NEP 49)
    set for the current context only: other threads and code outside the block allocate as before,
    and an array made inside may be kept and freed anywhere. ``pybitnet train``, the Trainer and the
    training benchmarks run their steps inside it."""
    old = _bitops.set_array_handler(None)
    try:
        yield
    finally:
        _bitops.set_array_handler(old)


def release_memory() -> int:
    """Free the blocks :func:`reuse_memory` keeps for reuse; returns the bytes given back."""
    return _bitops.release_cached_arrays()


def memory_cache_stats() -> dict[str, int]:
    """The block cache of :func:`reuse_memory`: bytes and blocks kept, requests served from it (hits) or not."""
    return dict(_bitops.array_cache_stats())
