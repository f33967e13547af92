"""Speed-ups vs numpy float32, side by side in one process: ``pybitnet bench``.

Each kernel is timed next to its float baseline of the same logical shape at
the same thread count (numpy's BLAS limited with threadpoolctl when it is
installed): medians of interleaved repeats, so machine noise hits both alike.
Operation counts come from :func:`pybitnet.count_ops` on one call, beside
:func:`pybitnet.float_gemm_ops` of the baseline. ``benchmarks/headline.py``
builds its table from the same functions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _bitops
from .opcount import count_ops, float_gemm_ops
from .packing import pack_signs
from .runtime import get_num_threads, set_num_threads

# (kernel, shape) of the default and the --quick table; shapes are M x K x N
# (pack_signs: rows x columns).
FULL = [("xnor_gemm", (256, 4096, 4096)), ("binary_weight_matmul", (100, 4096, 4096)),
        ("binary_weight_matmul_t", (100, 4096, 4096)), ("shift_matmul", (100, 1024, 1024)),
        ("pack_signs", (4096, 4096))]
QUICK = [("xnor_gemm", (64, 1024, 1024)), ("binary_weight_matmul", (32, 1024, 1024)),
         ("binary_weight_matmul_t", (32, 1024, 1024)), ("shift_matmul", (32, 512, 512)),
         ("pack_signs", (1024, 1024))]


@dataclass
class Result:
    kernel: str
    shape: Tuple[int, ...]
    isa: str
    threads: int
    seconds: float
    baseline: str  # what the kernel is timed against
    baseline_seconds: float
    multiplications: Optional[int] = None  # per call, as count_ops records it
    baseline_multiplications: Optional[int] = None
    throughput: str = ""

    @property
    def speedup(self) -> float:
        return self.baseline_seconds / self.seconds

    @property
    def shape_name(self) -> str:
        return "x".join(map(str, self.shape))


def median_time(fn: Callable[[], object], repeats: int = 15, warmup: int = 2,
                before: Optional[Callable[[], object]] = None) -> float:
    """Median wall time of ``fn()`` in seconds; ``before()``, if given, runs untimed before
    each timed call (e.g. a sleep, or a read that evicts the caches)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def median_pair(f: Callable[[], object], g: Callable[[], object], repeats: int = 15) -> Tuple[float, float]:
    """Medians of ``f`` and ``g`` timed alternately (one warm-up each)."""
    f(), g()
    tf, tg = [], []
    for _ in range(repeats):
        t = time.perf_counter(); f(); tf.append(time.perf_counter() - t)
        t = time.perf_counter(); g(); tg.append(time.perf_counter() - t)
    return float(np.median(tf)), float(np.median(tg))


def use_threads(n: int):
    """pybitnet and numpy's BLAS on ``n`` threads; returns the BLAS limiter (keep it alive) or None."""
    set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy then uses all its BLAS threads: say so in the table's header
        return None
    return threadpool_limits(n)


def random_pm(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _operands(kernel: str, shape, isa: str):
    """(kernel call at ``isa``, the same through the public API for count_ops, baseline call,
    baseline name, the baseline's float operation counts or None)."""
    import pybitnet

    if kernel == "pack_signs":
        x = random_pm(shape, 3)
        return lambda: _bitops.pack_signs(x, -1, isa), lambda: pack_signs(x), x.copy, "x.copy()", None
    m, k, n = shape
    if kernel == "xnor_gemm":
        x, w = random_pm((m, k), 1), random_pm((n, k), 2)
        a, b = pack_signs(x), pack_signs(w)
        return (lambda: _bitops.xnor_gemm(a, b, k, isa), lambda: pybitnet.xnor_gemm(a, b, k), lambda: x @ w.T,
                "x @ w.T", float_gemm_ops(m, k, n))
    if kernel in ("binary_weight_matmul", "binary_weight_matmul_t"):
        w = np.where(np.random.default_rng(0).random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)
        bits = pack_signs(w)
        if kernel == "binary_weight_matmul":
            x = random_pm((m, k), 1)
            return (lambda: _bitops.binary_weight_matmul(x, bits, k, isa),
                    lambda: pybitnet.binary_weight_matmul(x, bits, k), lambda: x @ w.T, "x @ w.T",
                    float_gemm_ops(m, k, n))
        g = random_pm((m, n), 2)
        return (lambda: _bitops.binary_weight_matmul_t(g, bits, k, isa),
                lambda: pybitnet.binary_weight_matmul_t(g, bits, k), lambda: g @ w, "g @ w", float_gemm_ops(m, n, k))
    if kernel == "shift_matmul":
        codes = pybitnet.quantize_pow2(random_pm((m, k), 1), seed=1)
        xq, g = pybitnet.dequantize_pow2(codes), random_pm((m, n), 2)
        return (lambda: _bitops.shift_matmul(codes, g, "float", isa), lambda: pybitnet.shift_matmul(codes, g),
                lambda: xq.T @ g, "x.T @ g", float_gemm_ops(k, m, n))
    raise ValueError(f"kernel: unknown {kernel!r}")


def measure(kernel: str, shape, isa: str, threads: int, repeats: int = 15) -> Result:
    """Time one kernel beside its float baseline at ``isa`` and ``threads``; count its multiplications."""
    limiter = use_threads(threads)
    try:
        fn, public, base, base_name, float_ops = _operands(kernel, shape, isa)
        t, t_base = median_pair(fn, base, repeats)
        with count_ops() as ops:  # analytic counts: the same on every ISA
            public()
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    r = Result(kernel, tuple(shape), isa, threads, t, base_name, t_base, multiplications=ops.multiplications,
               baseline_multiplications=float_ops.multiplications if float_ops else None)
    if kernel == "xnor_gemm":
        m, k, n = shape
        r.throughput = f"{m * n * k / t / 1e9:,.0f} G bit-MAC/s"
    return r


def thread_counts() -> List[int]:
    """1 and the detected thread count (pybitnet.get_num_threads()), without repeats."""
    n = get_num_threads()
    return [1] if n == 1 else [1, n]


def run(quick: bool = False, isa: str = "", threads: Optional[Sequence[int]] = None,
        repeats: Optional[int] = None, progress: Optional[Callable[[Result], None]] = None) -> List[Result]:
    """Every kernel of the table at ``isa`` (default the active one) and each thread count."""
    from .runtime import isa as active_isa

    isa = isa or active_isa()
    before = get_num_threads()
    threads = list(threads) if threads else thread_counts()
    repeats = repeats or (5 if quick else 15)
    results = []
    try:
        for n in threads:
            for kernel, shape in (QUICK if quick else FULL):
                results.append(measure(kernel, shape, isa, n, repeats))
                if progress:
                    progress(results[-1])
    finally:
        set_num_threads(before)
    return results


def _mults(r: Result) -> str:
    if not r.baseline_multiplications:
        return "-"
    return f"{r.multiplications:,} vs {r.baseline_multiplications:,}"


def format_table(results: Sequence[Result]) -> str:
    """A Markdown table: times, speed-up vs the float baseline, multiplications per call."""
    lines = ["| kernel | shape | ISA | threads | pybitnet (ms) | baseline | baseline (ms) | speed-up "
             "| multiplications (kernel vs float) | throughput |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.kernel} | {r.shape_name} | {r.isa} | {r.threads} | {r.seconds * 1e3:.3f} "
                     f"| {r.baseline} | {r.baseline_seconds * 1e3:.3f} | {r.speedup:.2f}x | {_mults(r)} "
                     f"| {r.throughput} |")
    return "\n".join(lines)


def write_png(results: Sequence[Result], path) -> None:
    """Bar chart of the speed-ups, one bar per kernel and thread count (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kernels = list(dict.fromkeys(f"{r.kernel}\n{r.shape_name}" for r in results))
    threads = sorted({r.threads for r in results})
    width = 0.8 / len(threads)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(kernels)), 4))
    for i, n in enumerate(threads):
        ys = {f"{r.kernel}\n{r.shape_name}": r.speedup for r in results if r.threads == n}
        xs = [j + (i - (len(threads) - 1) / 2) * width for j in range(len(kernels))]
        bars = ax.bar(xs, [ys.get(k, 0) for k in kernels], width, label=f"{n} thread{'s' if n > 1 else ''}")
        ax.bar_label(bars, fmt="%.1fx", fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(kernels)), kernels, fontsize=7)
    ax.set_ylabel("speed-up vs numpy float32")
    ax.set_yscale("log")
    isas = ", ".join(sorted({r.isa for r in results}))
    ax.set_title(f"pybitnet kernels ({isas}) vs numpy float32")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def header() -> str:
    import pybitnet

    try:
        import threadpoolctl  # noqa: F401

        blas = "numpy's BLAS limited to the same threads"
    except ImportError:
        blas = "threadpoolctl missing: numpy's BLAS uses all its threads"
    return (f"pybitnet {pybitnet.__version__}, ISA {pybitnet.isa()} (available: "
            f"{', '.join(pybitnet.available_isas())}), threads {get_num_threads()}; {blas}")
