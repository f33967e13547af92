"""Element-wise layers: ReLU, HardTanh, Dropout, and the BNN sign activation."""
from __future__ import annotations

import numpy as np

from .module import Module


class ReLU(Module):
    def forward(self, x):
        self._mask = x > 0
        return np.where(self._mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self._mask


class HardTanh(Module):
    """clip(x, -1, 1); gradient 1 inside [-1, 1], 0 outside."""

    def forward(self, x):
        self._mask = np.abs(x) <= 1
        return np.clip(x, -1, 1)

    def backward(self, grad):
        return grad * self._mask


class Dropout(Module):
    """Inverted dropout with rate `p`, seeded for reproducibility; identity in eval mode."""

    def __init__(self, p: float, seed: int = 0):
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed
        self.step = np.zeros((), np.int64)  # counter-based masks: a resumed run draws the same ones

    def buffers(self):
        return {"step": self.step}

    def forward(self, x):
        if not self.training or self.p == 0:
            self._scale = None
            return x
        self.step += 1
        rng = np.random.default_rng([self.seed, int(self.step)])
        self._scale = (rng.random(x.shape, dtype=np.float32) >= self.p).astype(x.dtype) / np.float32(1 - self.p)
        return x * self._scale

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
    return np.where(x < 0, np.float32(-1), np.float32(1))  # float32 scalars: no float64 temporary


class SteSign(Module):
    """Sign activation of a BNN hidden layer (see :func:`ste_sign`).

    Forward: ±1; backward: the gradient where |x| <= 1, zero elsewhere (the STE
    of Hubara et al. 2016). The next :class:`~pybitnet.nn.BinarizedDense` packs
    these ±1 values into bits.
    """

    def forward(self, x):
        self._mask = np.abs(x) <= 1
        return ste_sign(x)

    def backward(self, grad):
        return grad * self._mask
