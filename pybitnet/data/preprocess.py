"""Preprocessing: flatten, [-1, 1] scaling, centring, global contrast
normalization and ZCA whitening (the papers' CIFAR-10 inputs)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

_CHUNK = 4096  # rows per float64 temporary, bounds memory on CIFAR-sized inputs


def flatten(x) -> np.ndarray:
    """Images (N, ...) -> rows (N, features); a view when possible.

    Returns
    -------
    ndarray, shape (N, prod(x.shape[1:]))
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a leading example axis, got shape {x.shape}")
    return x.reshape(len(x), -1)


def scale_pm1(x, max_value: float = 255.0) -> np.ndarray:
    """Map ``[0, max_value]`` linearly to ``[-1, 1]`` (``2 x / max_value - 1``), float32.

    Parameters
    ----------
    x : array
        e.g. uint8 images.
    max_value : float, default 255

    Returns
    -------
    ndarray of float32, same shape
    """
    half = np.float32(max_value / 2.0)
    return np.asarray(x, np.float32) / half - np.float32(1.0)


def center(x_train, *others) -> Tuple[np.ndarray, ...]:
    """Subtract the per-feature mean of `x_train` from it and from `others`.

    Parameters
    ----------
    x_train : array (N, ...)
        The set the mean is fitted on.
    *others : array (M, ...)
        Sets to shift by the same mean (validation, test).

    Returns
    -------
    tuple of ndarray of float32
        ``(x_train_centred, *others_centred)``, shapes kept.
    """
    x_train = np.asarray(x_train)
    mean = x_train.mean(axis=0, dtype=np.float64).astype(np.float32)
    out = []
    for i, x in enumerate((x_train,) + others):
        x = np.asarray(x)
        if x.shape[1:] != x_train.shape[1:]:
            raise ValueError(f"others[{i - 1}]: example shape {x.shape[1:]} differs from x_train's "
                             f"{x_train.shape[1:]}")
        out.append(np.asarray(x, np.float32) - mean)
    return tuple(out)


def gcn(x, scale: float = 1.0, sqrt_bias: float = 0.0, use_std: bool = False,
        min_divisor: float = 1e-8) -> np.ndarray:
    """Global contrast normalization, per example.

    Each example (flattened) has its mean removed and is divided by
    ``sqrt(sqrt_bias + var)`` (``use_std=True``) or ``sqrt(sqrt_bias + sum of
    squares)`` (its L2 norm when ``sqrt_bias=0``), then multiplied by `scale`.
    Divisors below `min_divisor` (flat images) are replaced by 1. The
    BinaryConnect/BNN CIFAR-10 inputs (pylearn2's ``make_cifar10_gcn_whitened``)
    are ``gcn(x, scale=55)`` followed by ``ZCA(eps=0.1)``; Coates et al. (2011)
    used ``gcn(x, sqrt_bias=10, use_std=True)``.

    Parameters
    ----------
    x : array (N, ...)
    scale : float, default 1
    sqrt_bias : float, default 0
    use_std : bool, default False
    min_divisor : float, default 1e-8

    Returns
    -------
    ndarray of float32, shape of `x`
    """
    x = np.asarray(x)
    rows = flatten(x)
    out = np.empty(rows.shape, np.float32)
    for s in range(0, len(rows), _CHUNK):
        r = rows[s:s + _CHUNK].astype(np.float64)
        r -= r.mean(axis=1, keepdims=True)
        sq = (r * r).mean(axis=1) if use_std else (r * r).sum(axis=1)
        div = np.sqrt(sqrt_bias + sq)
        div[div < min_divisor] = 1.0
        out[s:s + _CHUNK] = scale * r / div[:, None]
    return out.reshape(x.shape)


class ZCA:
    """ZCA whitening, fitted on a training set and applied to any set.

    ``transform(x) = (x - mean) @ W`` with ``W = U diag(1 / sqrt(s + eps)) U^T``,
    where ``U diag(s) U^T`` is the SVD of the training covariance (``1/N``
    normalisation). `eps` regularises small eigenvalues: with ``eps -> 0`` the
    whitened training covariance is the identity. ``eps=0.1`` is the filter bias
    of the papers' CIFAR-10 preprocessing (pylearn2's ZCA, after ``gcn(x, scale=55)``).

    Examples
    --------
    >>> ds = load_cifar10()
    >>> zca = ZCA(eps=0.1).fit(gcn(ds.x_train, scale=55.0))
    >>> x_train, x_test = zca.transform(gcn(ds.x_train, scale=55.0)), zca.transform(gcn(ds.x_test, scale=55.0))

    Parameters
    ----------
    eps : float, default 0.1

    Attributes
    ----------
    mean_ : ndarray of float32, shape (D,)
    whitening_ : ndarray of float32, shape (D, D)
        Symmetric whitening matrix ``W``.
    """

    def __init__(self, eps: float = 0.1) -> None:
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.mean_: Optional[np.ndarray] = None
        self.whitening_: Optional[np.ndarray] = None

    def fit(self, x) -> "ZCA":
        """Fit mean and whitening matrix on `x` (N, ...); returns self."""
        rows = flatten(x)
        n, d = rows.shape
        if n < 2:
            raise ValueError(f"x: need at least 2 examples to fit ZCA, got {n}")
        mean = rows.mean(axis=0, dtype=np.float64)
        cov = np.zeros((d, d), np.float64)
        for s in range(0, n, _CHUNK):
            c = rows[s:s + _CHUNK].astype(np.float64) - mean
            cov += c.T @ c
        cov /= n
        u, s, _ = np.linalg.svd(cov, hermitian=True)
        if self.eps == 0 and s.min() <= 0:
            raise ValueError("x: covariance is singular; use eps > 0")
        w = (u / np.sqrt(s + self.eps)) @ u.T
        self.mean_ = mean.astype(np.float32)
        self.whitening_ = w.astype(np.float32)
        return self

    def transform(self, x) -> np.ndarray:
        """Whiten `x` (N, ...) with the fitted parameters; float32, shape of `x`."""
        if self.whitening_ is None:
            raise RuntimeError("ZCA.transform before fit")
        x = np.asarray(x)
        rows = flatten(x)
        if rows.shape[1] != self.whitening_.shape[0]:
            raise ValueError(f"x: {rows.shape[1]} features per example, ZCA was fitted on "
                             f"{self.whitening_.shape[0]}")
        out = np.empty(rows.shape, np.float32)
        for s in range(0, len(rows), _CHUNK):
            out[s:s + _CHUNK] = (rows[s:s + _CHUNK].astype(np.float32) - self.mean_) @ self.whitening_
        return out.reshape(x.shape)

    def fit_transform(self, x) -> np.ndarray:
        """``fit(x).transform(x)``."""
        return self.fit(x).transform(x)


def zca_whiten(x_train, *others, eps: float = 0.1) -> Tuple[np.ndarray, ...]:
    """Fit :class:`ZCA` on `x_train`, apply it to `x_train` and `others`.

    Parameters
    ----------
    x_train : array (N, ...)
    *others : array (M, ...)
    eps : float, default 0.1

    Returns
    -------
    tuple of ndarray of float32
        ``(x_train_white, *others_white)``, shapes kept.
    """
    zca = ZCA(eps).fit(x_train)
    return tuple(zca.transform(x) for x in (x_train,) + others)
