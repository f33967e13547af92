"""The model summary (:func:`pybitnet.summary`) of a ``torch.nn.Module``: pybitnet.torch layers are
counted by their kernels (count_ops), ``torch.nn`` products and batch norms analytically."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..opcount import OpCounts, count_ops
from ..model_summary import LayerSummary, ModelSummary, paper_accounting
from .nn import BinarizedLinear, BinaryConv2d, BinaryLinear, TernaryLinear

_FIELDS = ("multiplications", "additions", "shifts", "popcounts", "bitwise", "weight_bytes")


def _bits(m: nn.Module) -> int:
    """1 bit per binary weight, 2 per ternary weight, 32 per other parameter."""
    bits = 0
    for name, p in m.named_parameters(recurse=False):
        per = 32
        if name == "weight" and isinstance(m, (BinaryLinear, BinarizedLinear, BinaryConv2d)):
            per = 1
        elif name == "weight" and isinstance(m, TernaryLinear):
            per = 2
        bits += per * p.numel()
    return bits


def _float_ops(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> OpCounts:
    """torch.nn's own products, in the same accounting as count_ops (per batch)."""
    if isinstance(m, nn.Linear):
        n = inp.numel() // m.in_features * m.in_features * m.out_features
        return OpCounts(multiplications=n, additions=n, weight_bytes=4 * m.weight.numel())
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        n = out.numel() * (m.in_channels // m.groups) * kh * kw
        return OpCounts(multiplications=n, additions=n, weight_bytes=4 * m.weight.numel())
    return OpCounts()


def _bit_macs(m: nn.Module, out: torch.Tensor) -> int:
    if isinstance(m, BinarizedLinear):
        return out.numel() * m.in_features
    return 0


def summarize_torch(model: nn.Module, input_shape, batch: int, training_batch, seed: int) -> ModelSummary:
    g = torch.Generator().manual_seed(seed)
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    rows, handles = {}, []

    def pre(m, args):
        rows[m]["counter"] = count_ops()
        rows[m]["ops"] = rows[m]["counter"].__enter__()

    def post(m, args, out):
        rows[m]["counter"].__exit__(None, None, None)
        counted = rows[m]["ops"]
        inp = args[0] if args and isinstance(args[0], torch.Tensor) else out
        extra = _float_ops(m, inp, out)
        rows[m]["per"] = OpCounts(**{f: (getattr(counted, f) + getattr(extra, f)) // batch for f in _FIELDS})
        rows[m]["shape"] = tuple(out.shape[1:])
        rows[m]["bit_macs"] = _bit_macs(m, out) // batch
        is_bn = isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))
        rows[m]["elementwise"] = int(np.prod(out.shape[1:])) if is_bn else 0

    for _, m in leaves:
        rows[m] = {}
        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.randn((batch,) + tuple(input_shape), generator=g))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    layers = [LayerSummary(f"{name}: {type(m).__name__}", rows[m]["shape"],
                           sum(p.numel() for p in m.parameters(recurse=False)), _bits(m), rows[m]["per"],
                           rows[m]["bit_macs"], rows[m]["elementwise"])
              for name, m in leaves if "per" in rows[m]]
    summary = ModelSummary(layers, tuple(input_shape))
    if training_batch:
        _training_step(model, summary, input_shape, training_batch, g)
    return summary


def _training_step(model, summary, input_shape, batch, g) -> None:
    x = torch.randn((batch,) + tuple(input_shape), generator=g)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    extra = OpCounts()

    def post(m, args, out):  # torch.nn products: forward, input gradient and weight gradient
        f = _float_ops(m, args[0], out)
        for _ in range(3):
            extra.add(f)

    handles = [m.register_forward_hook(post) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        with count_ops() as ops:
            out = model(x)
            out.square().mean().backward()
    finally:
        for h in handles:
            h.remove()
        model.load_state_dict(state)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    ops.add(extra)
    summary.training_ops = OpCounts(**{f: getattr(ops, f) for f in _FIELDS})
    weights = sum(m.weight.numel() for m in model.modules()
                  if isinstance(m, (nn.Linear, nn.Conv2d, BinaryLinear, TernaryLinear, BinarizedLinear, BinaryConv2d)))
    units = sum(m.num_features for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)))
    paper_accounting(summary, weights, units, batch)
