"""A model summary in the spirit of ``larq.models.summary``.

Per layer: the parameters, the bits they take when stored as the papers'
hardware would (1 bit per binary weight, 2 per ternary weight, 32 per float),
the operations of one forward pass per example — bit-MACs (XNOR-popcount),
additions, multiplications, shifts — as the kernels themselves count them
(:func:`pybitnet.count_ops`, the papers' accounting: element-wise work such as
batch norm is listed apart), and packed vs float32 memory; then the totals.

>>> print(pybitnet.summary(model, input_shape=(784,)))       # pybitnet.nn or pybitnet.torch models
$ pybitnet summary runs/mnist-bnn/best.npz

With ``training_batch=B`` it also counts one training step of B examples
(forward, backward, weight gradients) and gives the Few-Multiplications
paper's accounting beside it: 3 x weights x B multiplications for the float
baseline, and 3 x units x B element-wise ones left once the products are
multiplication-free (Lin et al. 2015, "estimated number of multiplications in
MNIST net": 1.7480e9 vs 1.8492e6 per minibatch of 200).
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

import numpy as np

from .model_summary import LayerSummary, ModelSummary, format_summary, paper_accounting
from .opcount import OpCounts, count_ops

__all__ = ["summarize", "LayerSummary", "ModelSummary", "format_summary"]


# ---------------------------------------------------------------------------------------------
# pybitnet.nn models
# ---------------------------------------------------------------------------------------------

def _param_bits(layer) -> int:
    quantizer = getattr(layer, "quantizer", None)
    bits = 0
    for p in layer.own_parameters():
        per = 32
        if p is getattr(layer, "weight", None) and quantizer is not None:
            per = 2 if quantizer.kind == "ternary" else 1
        bits += per * p.value.size
    return bits


def _nn_bit_macs(layer, out_shape) -> int:
    """±1 x ±1 multiply-accumulates per example of a binary-input binary-weight layer."""
    from .nn import Conv2D, Dense

    q = getattr(layer, "quantizer", None)
    if q is None or q.kind != "binary" or not getattr(layer, "binary_input", False):
        return 0
    if isinstance(layer, Dense):
        return layer.in_features * layer.out_features
    if isinstance(layer, Conv2D):
        kh, kw = layer.kernel_size
        return kh * kw * layer.in_channels * int(np.prod(out_shape))
    return 0


def summarize(model, input_shape: Sequence[int], *, batch: int = 1, training_batch: Optional[int] = None,
              seed: int = 0) -> ModelSummary:
    """Summary of a :class:`pybitnet.nn.Sequential` or a ``torch.nn.Module`` built from
    :mod:`pybitnet.torch` (and ``torch.nn``) layers, on random inputs of `input_shape`
    (one example's shape, e.g. ``(784,)`` or ``(32, 32, 3)`` NHWC for pybitnet.nn CNNs)."""
    input_shape = tuple(int(d) for d in input_shape)
    if hasattr(model, "layers") and hasattr(model, "own_parameters"):
        return _summarize_nn(model, input_shape, batch, training_batch, seed)
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        from .torch.summary import summarize_torch

        return summarize_torch(model, input_shape, batch, training_batch, seed)
    raise TypeError(f"model must be a pybitnet.nn.Sequential or a torch.nn.Module, got {type(model).__name__}")


def _summarize_nn(model, input_shape, batch, training_batch, seed) -> ModelSummary:
    from .nn import BatchNorm

    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    x = rng.standard_normal((batch,) + input_shape).astype(np.float32)
    layers = []
    try:
        for i, layer in enumerate(model.layers):
            with count_ops() as ops:
                x = layer.forward(x)
            per = OpCounts(**{f: getattr(ops, f) // batch for f in ("multiplications", "additions", "shifts",
                                                                     "popcounts", "bitwise", "weight_bytes")})
            out = tuple(x.shape[1:])
            elementwise = int(np.prod(out)) if isinstance(layer, BatchNorm) else 0
            params = sum(p.value.size for p in layer.own_parameters())
            layers.append(LayerSummary(f"{i}: {_short(layer)}", out, params, _param_bits(layer), per,
                                       _nn_bit_macs(layer, out), elementwise))
    finally:
        model.train(was_training)
    summary = ModelSummary(layers, input_shape)
    if training_batch:
        _training_step_nn(model, summary, input_shape, training_batch, rng)
    return summary


def _training_step_nn(model, summary, input_shape, batch, rng) -> None:
    from .nn import BatchNorm, Conv2D, Dense, SquaredHinge

    x = rng.standard_normal((batch,) + input_shape).astype(np.float32)
    params = [p for p in model.parameters()]
    saved = [p.value.copy() for p in params]
    was_training = model.training
    model.train()
    try:
        model.zero_grad()
        with count_ops() as ops:
            out = model.forward(x)
            _, grad = SquaredHinge()(out, rng.integers(0, out.shape[1], batch))
            model.backward(grad)
    finally:
        for p, v in zip(params, saved):
            p.value[...] = v
        model.train(was_training)
    summary.training_ops = OpCounts(**{f: getattr(ops, f) for f in ("multiplications", "additions", "shifts",
                                                                   "popcounts", "bitwise", "weight_bytes")})
    weights = sum(m.weight.value.size for m in model.modules() if isinstance(m, (Dense, Conv2D)))
    units = sum(m.features for m in model.modules() if isinstance(m, BatchNorm))
    paper_accounting(summary, weights, units, batch)


def _short(layer) -> str:
    r = repr(layer)
    return r if len(r) <= 48 else r[:45] + "..."
