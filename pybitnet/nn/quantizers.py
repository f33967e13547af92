"""Weight quantizers: what a layer multiplies by instead of its real weights.

In the style of larq's quantizers, each is a function / class pair whose
docstring gives the forward, the straight-through gradient and the paper. A
layer (:class:`~pybitnet.nn.Dense`, :class:`~pybitnet.nn.Conv2D`) composes
one: it keeps the real weights W for the update, asks the quantizer for the
packed weights of each forward pass, and applies dC/dW_q to W unchanged (the
straight-through estimator of these papers has no mask on the weights), then
clips W to [-H, H].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from .. import sampling
from ..packing import pack_signs

Scale = Union[float, str]


def glorot_w0(fan_in: int, fan_out: int) -> float:
    """W0 = sqrt(6 / (fan_in + fan_out)) / 2: the binary weight magnitude of BC-M / ternary connect."""
    return math.sqrt(6.0 / (fan_in + fan_out)) / 2


def glorot_lr_scale(fan_in: int, fan_out: int) -> float:
    """Per-layer learning-rate factor of BinaryConnect / BNN: 1 / sqrt(1.5 / (fan_in + fan_out))."""
    return 1.0 / math.sqrt(1.5 / (fan_in + fan_out))


@dataclass
class SampledWeights:
    """Packed binary (or ternary) weights of one forward pass."""

    kind: str  # "binary" or "ternary"
    k: int
    bits: np.ndarray  # sign bits (N, words)
    nonzero: Optional[np.ndarray] = None  # ternary only


def sign_weights(w: np.ndarray, scale: float = 1.0, stochastic: bool = False, seed: Optional[int] = None) -> np.ndarray:
    """The packed signs of BinaryConnect's binary weights H * (±1) (see :class:`SignWeights`)."""
    if stochastic:
        return sampling.binarize(w, stochastic=True, seed=seed, scale=scale)
    return pack_signs(w)  # a positive H does not change a sign


def ternary_weights(w: np.ndarray, scale: float = 1.0, stochastic: bool = True, seed: Optional[int] = None):
    """(sign bits, nonzero bits) of ternary connect's weights H * {-1, 0, +1} (see :class:`TernaryWeights`)."""
    return sampling.ternarize(w, stochastic=stochastic, seed=seed, scale=scale)


class WeightQuantizer:
    """A layer's weight quantizer: magnitude H, initial range, and a packed sample per forward pass.

    ``scale``: H as a number, or ``"glorot"`` for W0 = sqrt(6/(fan_in+fan_out))/2 (the BC-M /
    Few-Multiplications MNIST recipes, whose code draws W ~ U(-2 W0, 2 W0): the first update's clip
    saturates about half of them). ``stochastic``: sample at train time; evaluation then uses the
    real weights, as the papers' code does.
    """

    kind = ""

    def __init__(self, scale: Scale = 1.0, stochastic: bool = False):
        if scale != "glorot":
            scale = float(scale)
            if not (scale > 0 and math.isfinite(scale)):
                raise ValueError(f"scale must be a finite number > 0 or 'glorot', got {scale}")
        self.scale, self.stochastic = scale, bool(stochastic)

    def magnitude(self, fan_in: int, fan_out: int) -> float:
        """H: the weights are ±H (or 0)."""
        return glorot_w0(fan_in, fan_out) if self.scale == "glorot" else float(self.scale)

    def init_bound(self, fan_in: int, fan_out: int) -> float:
        """W ~ U(-bound, bound) at initialization."""
        return 2 * glorot_w0(fan_in, fan_out) if self.scale == "glorot" else float(self.scale)

    def sample(self, w: np.ndarray, h: float, *, stochastic: bool, seed: int) -> SampledWeights:
        raise NotImplementedError

    def __repr__(self):
        scale = self.scale if isinstance(self.scale, str) else f"{self.scale:g}"
        return f"{type(self).__name__}(scale={scale!r}{', stochastic' if self.stochastic else ''})"


class SignWeights(WeightQuantizer):
    """BinaryConnect's binary weights (Courbariaux, Bengio & David 2015, "BinaryConnect"; the BNN
    layers of Hubara et al. 2016 with H = 1).

    Forward: W_b = H * sign(W) (sign(0) = +1), or, stochastic, +H with probability
    hard_sigmoid(W / H) = clip((W / H + 1) / 2, 0, 1) and -H otherwise, drawn anew each step.
    Gradient (straight-through): dC/dW = dC/dW_b, applied to the real W, which is then clipped
    to [-H, H].
    """

    kind = "binary"

    def sample(self, w, h, *, stochastic, seed):
        return SampledWeights("binary", w.shape[1], sign_weights(w, h, stochastic, seed))


class TernaryWeights(WeightQuantizer):
    """Ternary connect (Lin, Courbariaux, Memisevic & Bengio 2016, "Neural Networks with Few
    Multiplications").

    Forward: W_t = H * sign(W) * Bernoulli(clip(|W| / H, 0, 1)) (stochastic, the paper's and its
    code's rule; deterministic: sign(W) where |W| / H > 1/2, else 0). Zeros are skipped by the
    kernels, not multiplied. Gradient (straight-through): dC/dW = dC/dW_t, clipped to [-H, H].
    Defaults: H = W0 ("glorot"), stochastic.
    """

    kind = "ternary"

    def __init__(self, scale: Scale = "glorot", stochastic: bool = True):
        super().__init__(scale, stochastic)

    def sample(self, w, h, *, stochastic, seed):
        sign, nonzero = ternary_weights(w, h, stochastic, seed)
        return SampledWeights("ternary", w.shape[1], sign, nonzero)
