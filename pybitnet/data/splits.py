"""Splits and targets: the validation hold-out of the papers, +-1 one-hot targets."""
from __future__ import annotations

import numpy as np

def validation_split(x, y, n_val: int = 10000):
    """Hold out the LAST `n_val` examples as validation set (as the papers do for MNIST).

    Parameters
    ----------
    x, y : ndarray
        Examples and labels, same length.
    n_val : int, default 10000

    Returns
    -------
    x_train, y_train, x_val, y_val : ndarray
        Views of the inputs (no copies).
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n_val = int(n_val)
    if not 0 < n_val < len(x):
        raise ValueError(f"n_val must be in 1..{len(x) - 1}, got {n_val}")
    cut = len(x) - n_val
    return x[:cut], y[:cut], x[cut:], y[cut:]


def one_hot_pm1(y, classes: int) -> np.ndarray:
    """±1 targets: +1 at the label, -1 elsewhere (the squared-hinge loss of the papers).

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels in ``0 .. classes - 1``.
    classes : int

    Returns
    -------
    ndarray of float32, shape (N, classes)
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D integer label array, got {y.dtype}{y.shape}")
    if classes < 1:
        raise ValueError(f"classes must be positive, got {classes}")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"y: labels must be in 0..{classes - 1}, got {y.min()}..{y.max()}")
    t = np.full((y.size, classes), -1.0, np.float32)
    t[np.arange(y.size), y] = 1.0
    return t
