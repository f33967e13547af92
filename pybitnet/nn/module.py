"""Module and Parameter: explicit forward/backward, in the style of micrograd."""
from __future__ import annotations

import functools
from typing import Iterator, List, Optional

import numpy as np

from .._arrays import as_real
from .._hugepages import copy_array, zeros_array


class Parameter:
    """A trainable array with its gradient.

    ``clip`` (a bound H: the value is kept in [-H, H] after every update, as
    BinaryConnect does for its real-valued weights) and ``lr_scale`` (a
    per-parameter learning-rate factor, e.g. the Glorot scale of binary
    weights) are read by the optimizers.

    An optimizer built with ``update_in_backward=True`` may update a quantized
    layer's weights during the backward pass and keep their packed signs for the
    next forward (:meth:`cached_signs`). Any access to :attr:`value` drops that
    cache (the caller may write to the array), and until then the array is
    read-only, so a write through an older reference raises instead of leaving
    the cache stale. Read without giving up the cache through :meth:`view`.

    The value is a copy of the array given. It and the gradient buffer each sit in their
    own 2 MiB-aligned block, on huge pages where the OS allows (``pybitnet._hugepages``):
    a training step streams every weight, and on numpy's own arrays the fused gradient +
    Adam update of a 4096x4096 layer took 34-37 ms against 20-23 ms (Zen 4, 1 thread). A gradient
    array handed over (the ``grad`` setter, :meth:`accumulate` of a fresh array) is taken as it is.
    """

    def __init__(self, value: np.ndarray, name: str = "", clip: Optional[float] = None, lr_scale: float = 1.0):
        self._value = copy_array(value, np.float32)
        self._grad = zeros_array(self._value.shape)
        self._grad_zero = False
        self._signs: Optional[np.ndarray] = None  # packed signs of the value's rows, see cache_signs
        self.updater = None  # the optimizer updating it in backward (Optimizer.backward_update), if any
        self.name = name
        self.clip = None if clip is None else as_real(clip, "clip")
        if self.clip is not None and self.clip < 0:
            raise ValueError(f"clip must be >= 0 (the value is kept in [-clip, clip]), got {clip}")
        self.lr_scale = float(lr_scale)

    @property
    def value(self) -> np.ndarray:
        """The array itself (writable; taking it drops the packed-sign cache)."""
        if self._signs is not None:
            self._signs = None
            self._value.flags.writeable = True
        return self._value

    @value.setter
    def value(self, value: np.ndarray) -> None:
        self._signs = None
        self._value = copy_array(value, np.float32)

    def view(self) -> np.ndarray:
        """A read-only view of the value, for readers (keeps the packed-sign cache)."""
        out = self._value.view()
        out.flags.writeable = False
        return out

    def updates_in_backward(self) -> bool:
        """An optimizer updates this parameter in backward (``update_in_backward``), and its gradient is
        still zero (no earlier contribution in this step)."""
        return self.updater is not None and self._grad_zero

    def scratch_grad(self) -> np.ndarray:
        """The gradient's buffer, contents undefined, for an update in backward to compute the gradient
        into without keeping it (``grad`` still reads as zero)."""
        return self._grad

    def cache_signs(self, signs: np.ndarray) -> None:
        """Keep `signs`, the packed signs of the value's rows just written by an optimizer,
        and make the array read-only until :attr:`value` is taken again."""
        self._signs = signs
        self._value.flags.writeable = False

    def cached_signs(self, rows: int, k: int) -> Optional[np.ndarray]:
        """The kept packed signs if they are those of the value viewed as (rows, k), else None."""
        s = self._signs
        if s is None or s.shape[0] != rows or rows * k != self._value.size or s.shape[1] != -(-k // 64):
            return None
        return s

    @property
    def grad(self) -> np.ndarray:
        if self._grad_zero:  # zeroed lazily: see zero_grad
            self._grad[...] = 0
            self._grad_zero = False
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        self._grad = np.ascontiguousarray(value, dtype=np.float32)
        self._grad_zero = False

    def zero_grad(self) -> None:
        """Mark the gradient as zero without touching memory: the next
        :meth:`accumulate` takes its array instead of adding it to zeros (for a
        4096x4096 layer that saves two passes over 64 MiB per step)."""
        self._grad_zero = True

    def accumulate_from(self, compute) -> None:
        """grad += compute(out): `compute` writes its result into `out` (the
        gradient buffer itself, when the gradient is zero: no new large array,
        no page faults) or returns a new array when `out` is None."""
        if self._grad_zero:
            compute(out=self._grad)
            self._grad_zero = False
        else:
            self._grad += compute(out=None)

    def accumulate(self, g: np.ndarray) -> None:
        """grad += g. A fresh float32 array of the right shape is taken over, not copied."""
        if self._grad_zero and g.dtype == np.float32 and g.shape == self._value.shape and g.flags.c_contiguous:
            self._grad = g
        elif self._grad_zero:
            self._grad[...] = g
        else:
            self._grad += g
        self._grad_zero = False

    @property
    def shape(self):
        return self._value.shape

    def __repr__(self) -> str:
        extra = f", clip={self.clip}" if self.clip is not None else ""
        return f"Parameter({self.name or '?'}, shape={self.shape}{extra})"


def records_output_shape(forward):
    """Decorates a layer's ``forward``: keeps the shape of what it returns, which
    :func:`checks_grad_shape` holds the next ``backward``'s gradient to."""
    @functools.wraps(forward)
    def wrapper(self, x):
        y = forward(self, x)
        self._output_shape = np.shape(y)
        return y
    return wrapper


def checks_grad_shape(backward):
    """Decorates a layer's ``backward``: a gradient whose shape is not the last forward's output
    shape raises ValueError before anything is accumulated (numpy would broadcast a (1, n)
    gradient, or a same-size reshape would pass, and the parameter gradients come out wrong)."""
    @functools.wraps(backward)
    def wrapper(self, grad):
        expected = getattr(self, "_output_shape", None)
        if expected is not None and np.shape(grad) != expected:
            raise ValueError(f"{type(self).__name__}.backward: grad has shape {np.shape(grad)}, but the last "
                             f"forward returned shape {expected}")
        return backward(self, grad)
    return wrapper


class Module:
    """Base class: ``forward(x)`` caches what ``backward(grad)`` needs;
    ``backward`` accumulates parameter gradients and returns the gradient
    with respect to the input."""

    training: bool = True
    needs_input_grad: bool = True  # False on a network's first layer: the data needs no gradient

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def children(self) -> List["Module"]:
        return []

    def modules(self) -> Iterator["Module"]:
        yield self
        for child in self.children():
            yield from child.modules()

    def own_parameters(self) -> List[Parameter]:
        return []

    def parameters(self) -> List[Parameter]:
        return [p for m in self.modules() for p in m.own_parameters()]

    def buffers(self) -> dict:
        """Non-trainable state saved in checkpoints (e.g. BN running statistics)."""
        return {}

    def load_buffers(self, buffers: dict) -> None:
        for key, value in buffers.items():
            getattr(self, key)[...] = value

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def after_update(self) -> None:
        """Called by the optimizer after each step (e.g. to re-binarize weights)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def children(self) -> List[Module]:
        return self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:  # a layer whose input needs no gradient
                break
        return grad

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
