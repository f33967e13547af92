"""Operation counting: what each kernel call did, in the papers' accounting.

Kernels report analytic counts (a function of the shapes) through
:func:`record`; nothing is recorded, and nothing is computed, unless a
:func:`count_ops` block is active, so counting off costs one global read per call.

>>> with pybitnet.count_ops() as ops:
...     pybitnet.xnor_gemm(a_bits, b_bits, k)
>>> ops.multiplications, ops.popcounts, ops.by_kernel["xnor_gemm"].calls
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Callable, Dict, Iterator, List

from ._arrays import as_size

FIELDS = ("multiplications", "additions", "shifts", "popcounts", "bitwise", "weight_bytes")


@dataclasses.dataclass
class OpCounts:
    """Arithmetic done: multiplications, additions/subtractions, shifts,
    popcounts (one per 64-bit word), bitwise ops (one per 64-bit word), and
    bytes of weights read. ``calls`` counts kernel calls."""

    multiplications: int = 0
    additions: int = 0
    shifts: int = 0
    popcounts: int = 0
    bitwise: int = 0
    weight_bytes: int = 0
    calls: int = 0

    def add(self, other: "OpCounts") -> None:
        for f in FIELDS + ("calls",):
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> Dict[str, int]:
        return dataclasses.asdict(self)


class OpCounter(OpCounts):
    """Totals of a :func:`count_ops` block, plus ``by_kernel[name]`` breakdowns."""

    def __init__(self) -> None:
        super().__init__()
        self.by_kernel: Dict[str, OpCounts] = {}

    def _record(self, kernel: str, counts: OpCounts) -> None:
        self.add(counts)
        self.by_kernel.setdefault(kernel, OpCounts()).add(counts)

    def __repr__(self) -> str:
        totals = ", ".join(f"{f}={getattr(self, f):,}" for f in FIELDS)
        return f"OpCounter({totals}, calls={self.calls}, kernels={sorted(self.by_kernel)})"


_local = threading.local()


def _active() -> List[OpCounter]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@contextlib.contextmanager
def count_ops() -> Iterator[OpCounter]:
    """Count the operations of every pybitnet kernel called in this block (this thread).

    Blocks nest: an inner block's calls count in the outer one too.
    """
    counter = OpCounter()
    stack = _active()
    stack.append(counter)
    try:
        yield counter
    finally:
        stack.remove(counter)


def counting() -> bool:
    """True inside a :func:`count_ops` block (lets callers skip building counts)."""
    return bool(getattr(_local, "stack", None))


def record(kernel: str, counts: Callable[[], OpCounts] | OpCounts) -> None:
    """Add one call of `kernel` to every active counter.

    Pass a zero-argument callable to build the counts only when counting is on.
    """
    stack = getattr(_local, "stack", None)
    if not stack:
        return
    c = counts() if callable(counts) else counts
    c.calls = 1
    for counter in stack:
        counter._record(kernel, c)


def float_gemm_ops(m: int, k: int, n: int) -> OpCounts:
    """Float baseline of an (m, k) @ (k, n) product: m*n*k multiplications and
    m*n*k additions (the papers' accounting), weights read as float32."""
    m, k, n = (as_size(v, name) for name, v in (("m", m), ("k", k), ("n", n)))
    return OpCounts(multiplications=m * n * k, additions=m * n * k, weight_bytes=4 * k * n)
