"""The training batch norm of rows as C++ kernels (``norm/`` in src/bitops):
what :class:`pybitnet.nn.BatchNorm` runs in training, usable on its own.

Rows ``x`` (rows, C) float32, statistics per channel (column) over the rows.
Float64 sums, so the mean is the correctly rounded float32 mean and the
variance is accurate where numpy's float32 sums along an axis are not (at
51200 rows they differ from it by up to ~1e-5 relative); the elementwise
steps round like numpy's float32 passes. A channel's sums run over the rows
in order on one thread, so results do not depend on the thread count.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _bitops
from ._arrays import as_array


def batch_norm_train(x, gamma, beta, eps: float, xhat: Optional[np.ndarray] = None
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, xhat, mean, var, inv)``: the batch mean and biased variance per channel,
    ``inv = 1 / sqrt(var + eps)``, ``xhat = (x - mean) * inv`` and ``y = xhat * gamma + beta``.
    ``xhat``: a (rows, C) float32 buffer to write it into (reused between steps: no page faults)."""
    return _bitops.batch_norm_train(as_array(x, "x"), as_array(gamma, "gamma"), as_array(beta, "beta"), float(eps),
                                    xhat)


def batch_norm_backward(grad, xhat, scale, input_grad: bool = True
                        ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """``(dgamma, dbeta, dx)``: ``dgamma = sum(grad * xhat)``, ``dbeta = sum(grad)`` per channel and
    ``dx = (grad - (xhat * dgamma / rows + dbeta / rows)) * scale`` (None unless `input_grad`), where
    ``scale = gamma * inv`` for batch norm's input gradient."""
    return _bitops.batch_norm_backward(as_array(grad, "grad"), as_array(xhat, "xhat"), as_array(scale, "scale"),
                                       bool(input_grad))
