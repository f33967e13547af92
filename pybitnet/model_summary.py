"""The model summary's data (per-layer rows, totals, the papers' accounting) and its table: shared by
:mod:`pybitnet.summarize` (pybitnet.nn models) and :mod:`pybitnet.torch.summary`."""
from __future__ import annotations

import dataclasses
from typing import List, Optional

from .opcount import OpCounts


@dataclasses.dataclass
class LayerSummary:
    name: str
    output_shape: tuple
    params: int
    bits: int  # as stored: 1 per binary weight, 2 per ternary weight, 32 per float
    ops: OpCounts  # per example, counted by the kernels
    bit_macs: int  # per example: XNOR-popcount multiply-accumulates of ±1 values
    elementwise: int  # per example: element-wise multiplications not in `ops` (batch norm scale)

    @property
    def packed_bytes(self) -> int:
        return -(-self.bits // 8)

    @property
    def float32_bytes(self) -> int:
        return 4 * self.params


@dataclasses.dataclass
class ModelSummary:
    layers: List[LayerSummary]
    input_shape: tuple
    training_batch: Optional[int] = None
    training_ops: Optional[OpCounts] = None  # one training step of `training_batch` examples
    paper_float_mults: Optional[int] = None  # 3 x weights x B
    paper_elementwise_mults: Optional[int] = None  # 3 x units x B

    def __str__(self) -> str:
        return format_summary(self)


def _fmt(n) -> str:
    return "0" if n == 0 else f"{n:,}" if n < 10**7 else f"{n:.3e}"


def format_summary(s: ModelSummary) -> str:
    head = ("layer", "output", "params", "bits", "bit-MACs", "additions", "mults", "shifts", "packed", "float32")
    rows = [head]
    for l in s.layers:
        mults = _fmt(l.ops.multiplications) + (f" (+{_fmt(l.elementwise)} elem.)" if l.elementwise else "")
        rows.append((l.name, "x".join(map(str, l.output_shape)), _fmt(l.params), _fmt(l.bits), _fmt(l.bit_macs),
                     _fmt(l.ops.additions), mults, _fmt(l.ops.shifts), _bytes(l.packed_bytes), _bytes(l.float32_bytes)))
    tot_mults = sum(l.ops.multiplications for l in s.layers)
    tot_elem = sum(l.elementwise for l in s.layers)
    rows.append(("total", "", _fmt(sum(l.params for l in s.layers)), _fmt(sum(l.bits for l in s.layers)),
                 _fmt(sum(l.bit_macs for l in s.layers)), _fmt(sum(l.ops.additions for l in s.layers)),
                 _fmt(tot_mults) + (f" (+{_fmt(tot_elem)} elem.)" if tot_elem else ""),
                 _fmt(sum(l.ops.shifts for l in s.layers)), _bytes(sum(l.packed_bytes for l in s.layers)),
                 _bytes(sum(l.float32_bytes for l in s.layers))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    packed, full = sum(l.packed_bytes for l in s.layers), sum(l.float32_bytes for l in s.layers)
    lines.append(f"operations per example (input {'x'.join(map(str, s.input_shape))}), counted by the kernels; "
                 f"memory {full / max(1, packed):.1f}x smaller packed than float32")
    if s.training_ops is not None:
        t = s.training_ops
        lines.append(f"one training step of {s.training_batch} examples: {_fmt(t.multiplications)} multiplications, "
                     f"{_fmt(t.additions)} additions, {_fmt(t.shifts)} shifts, {_fmt(t.popcounts)} popcounts "
                     "(kernels; element-wise work not counted)")
        lines.append(f"the Few-Multiplications paper's accounting at this batch: float baseline 3 x weights x B = "
                     f"{_fmt(s.paper_float_mults)}; left once the products are multiplication-free, "
                     f"3 x units x B = {_fmt(s.paper_elementwise_mults)} (element-wise)")
    return "\n".join(lines)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def paper_accounting(summary: ModelSummary, weights: int, units: int, batch: int) -> None:
    summary.training_batch = batch
    summary.paper_float_mults = 3 * weights * batch
    summary.paper_elementwise_mults = 3 * units * batch
