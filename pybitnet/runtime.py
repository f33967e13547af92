"""Run-time facts and knobs: the active ISA path, CPU features, threads."""
from __future__ import annotations

from . import _bitops


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


def active_kernels() -> dict[str, dict[str, object]]:
    """Per kernel: the variant in use and the variants this CPU can run.

    >>> pybitnet.active_kernels()["xnor_gemm"]
    {'current': 'avx512', 'available': ['avx512', 'avx2', 'scalar']}
    """
    avail = available_isas()
    return {op: {"current": isa(), "available": avail} for op in _bitops.op_names()}


def kernel_calls() -> dict[str, dict[str, int]]:
    """How many times each kernel variant ran since import: ``{op: {isa: calls}}``."""
    return {op: dict(per_isa) for op, per_isa in _bitops.kernel_calls().items()}


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


def build_info() -> dict[str, str]:
    """How the extension was built (version, compile flags)."""
    return {"version": _bitops.__version__, "flags": _bitops.build_flags}


def openblas_spin_note() -> str:
    """How numpy's OpenBLAS threads wait between calls, as it affects pybitnet's threads."""
    import os

    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "").strip()
    if timeout.isdigit() and int(timeout) <= 10:
        return f"short (OPENBLAS_THREAD_TIMEOUT={timeout}): idle OpenBLAS threads sleep, pybitnet keeps both cores"
    return ("long (OpenBLAS default): right after a numpy BLAS call its idle threads spin for ~0.1 s and can hold "
            "the core a second pybitnet thread needs; import pybitnet before numpy, or set "
            "OPENBLAS_THREAD_TIMEOUT=4, to avoid it")
