"""Element-wise layers: ReLU, HardTanh, Dropout, and the BNN sign activation."""
from __future__ import annotations

import numpy as np

import pybitnet

from .. import ste_ops
from .._arrays import as_real
from ..sampling import dropout
from .module import Module, checks_grad_shape, records_output_shape

_MASK64 = 2**64 - 1


def _splitmix64(z: int) -> int:
    """The splitmix64 finalizer on z + golden (mod 2**64): mixes a (seed, step) pair into one seed."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class ReLU(Module):
    @records_output_shape
    def forward(self, x):
        self._mask = x > 0
        return np.maximum(x, x.dtype.type(0))  # NaN stays NaN (np.where(x > 0, x, 0) made it 0, silently)

    @checks_grad_shape
    def backward(self, grad):
        return grad * self._mask


class HardTanh(Module):
    """clip(x, -1, 1); gradient 1 inside [-1, 1], 0 outside."""

    @records_output_shape
    def forward(self, x):
        self._mask = np.abs(x) <= 1
        return np.clip(x, -1, 1)

    @checks_grad_shape
    def backward(self, grad):
        return grad * self._mask


class Dropout(Module):
    """Inverted dropout with rate `p`, seeded for reproducibility; identity in eval mode.

    Training: each unit is kept with probability 1 - p and scaled by 1 / (1 - p), dropped (0)
    otherwise; the mask is :func:`pybitnet.dropout`'s counter-based draw for a seed mixed from
    (`seed`, step), so a resumed run draws the same masks, on any CPU and thread count.
    """

    def __init__(self, p: float, seed: int = 0):
        p = as_real(p, "p")
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed
        self.step = np.zeros((), np.int64)  # counter-based masks: a resumed run draws the same ones

    def buffers(self):
        return {"step": self.step}

    @records_output_shape
    def forward(self, x):
        if not self.training or self.p == 0:
            self._scale = None
            return x
        self.step += 1
        y, self._scale = dropout(np.ascontiguousarray(x, dtype=np.float32), self.p,
                                 _splitmix64(_splitmix64(self.seed) ^ int(self.step)))
        return y if x.dtype == np.float32 else x * self._scale

    @checks_grad_shape
    def backward(self, grad):
        return grad if self._scale is None else grad * self._scale

    def __repr__(self):
        return f"Dropout(p={self.p})"


def ste_sign(x: np.ndarray) -> np.ndarray:
    """Deterministic binarization with the straight-through estimator's forward.

    Forward: sign(x) with sign(0) = +1 (the bit contract's convention).
    Gradient (STE, Hubara et al. 2016, "Binarized Neural Networks"):
    g_x = g_q * 1{|x| <= 1}, i.e. back-propagation through HardTanh.
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim and x.flags.c_contiguous and x.size:
        try:  # the packing kernels: 4x faster than np.where on conv activations
            return pybitnet.unpack_signs(pybitnet.pack_signs(x), x.shape[-1])
        except ValueError:  # NaN has no sign: np.where maps it to +1
            pass
    return np.where(x < 0, np.float32(-1), np.float32(1))  # float32 scalars: no float64 temporary


class SteSign(Module):
    """Sign activation of a BNN hidden layer (see :func:`ste_sign`).

    Forward: ±1; backward: the gradient where |x| <= 1, zero elsewhere (the STE
    of Hubara et al. 2016). The next :class:`~pybitnet.nn.BinarizedDense` packs
    these ±1 values into bits.

    With ``stochastic=True`` (training only; the Torch7 BNN code's default
    ``-stcNeurons true``): +1 with probability (clip(x, -1, 1) + 1) / 2, else
    -1, drawn from a counter-based generator (seeded, resumable); evaluation
    stays deterministic.

    ``gate="exclusive"`` passes the gradient only where -1 < x < 1 (Torch's
    ``nn.HardTanh``); the default is inclusive (Theano's clip). With shift-based
    BN the BN output is often exactly ±1, so the two differ in practice.
    """

    def __init__(self, stochastic: bool = False, seed: int = 0, gate: str = "inclusive"):
        if gate not in ("inclusive", "exclusive"):
            raise ValueError(f"gate must be 'inclusive' or 'exclusive', got {gate!r}")
        self.stochastic, self.seed, self.gate = stochastic, seed, gate
        self.step = np.zeros((), np.int64)

    def buffers(self):
        return {"step": self.step} if self.stochastic else {}

    @records_output_shape
    def forward(self, x):
        self._gate = None
        if not (self.stochastic and self.training) and isinstance(x, np.ndarray) and x.dtype == np.float32 \
                and x.flags.c_contiguous:  # the C++ kernel: sign and the gate bits in one pass (pybitnet.ste_ops)
            y, self._gate = ste_ops.ste_sign(x, self.gate == "inclusive")
            self._mask = None
            return y
        if self.gate == "inclusive":
            self._mask = (x >= -1) & (x <= 1)  # |x| <= 1 without a float temporary
        else:
            self._mask = (x > -1) & (x < 1)
        if self.stochastic and self.training:
            self.step += 1
            u = np.random.default_rng([self.seed, int(self.step)]).random(x.shape, dtype=np.float32)
            p_plus = (np.clip(x, -1, 1) + np.float32(1)) * np.float32(0.5)
            return np.where(p_plus - u < 0, np.float32(-1), np.float32(1))
        return ste_sign(x)

    @checks_grad_shape
    def backward(self, grad):
        if self._gate is None:
            return grad * self._mask
        if grad.dtype == np.float32:  # grad * gate, from the packed gate bits
            return ste_ops.ste_sign_backward(np.ascontiguousarray(grad), self._gate)
        gate = np.unpackbits(self._gate.view(np.uint8), count=grad.size, bitorder="little")
        return grad * gate.reshape(grad.shape).astype(bool)

    def __repr__(self):
        flags = (["stochastic"] if self.stochastic else []) + ([f"gate={self.gate!r}"] if self.gate != "inclusive" else [])
        return f"SteSign({', '.join(flags)})"
