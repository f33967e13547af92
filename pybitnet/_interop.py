"""One convention for the raw kernels, whichever framework the arrays come from.

``@tensors_in_tensors_out`` wraps each public kernel wrapper of the ``pybitnet`` namespace:

- **Tensors in, tensors out.** When any argument is a ``torch.Tensor`` the array results are
  returned as tensors on the same memory (``torch.from_numpy``, no copy); otherwise they are numpy
  arrays. Packed words come back as ``torch.int64`` tensors, the dtype the
  ``torch.ops.pybitnet`` operators return, so the two APIs' packed bits are interchangeable.
- **Torch hints.** A torch argument that is refused for its layout gets a torch remedy
  (``name.contiguous()``, ``name.clone()``) instead of the numpy one (``np.ascontiguousarray(name)``).

The inputs themselves are viewed by :func:`pybitnet._arrays.as_array` (numpy, DLPack, ``__array__``)
and, for packed bits, :func:`pybitnet._arrays.as_bits` (uint64 or int64 words). torch is never
imported here: a tensor can only exist if its module is already in ``sys.modules``.
"""
from __future__ import annotations

import functools
import re
import sys
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:  # annotations only: importing pybitnet never imports torch
    import torch

# What a raw kernel returns: numpy arrays, or torch tensors when any argument was one (CONVENTION).
ArrayOut = Union[np.ndarray, "torch.Tensor"]

CONVENTION = """
    Arrays and tensors: array arguments may be numpy arrays, PyTorch CPU tensors or other DLPack /
    ``__array__`` producers, read in place (pybitnet itself never copies them). If any argument is a
    ``torch.Tensor`` the results are torch tensors on the result's memory (packed words as
    ``torch.int64``, like ``torch.ops.pybitnet``), else numpy arrays. Packed-bit arguments may be
    uint64 or int64 (the same 64 bits, reinterpreted in place). See docs/FRAMEWORKS.md,
    "Mixing the two APIs".
"""

_NUMPY_HINT = re.compile(r"np\.ascontiguousarray\((\w+)\)|\b(\w+)\.copy\(\)")


def _tensor_type():
    """``torch.Tensor`` if torch is already imported, else None (torch is not imported for this)."""
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def tensors_in_tensors_out(fn):
    """Decorate a kernel wrapper with the convention above; appends :data:`CONVENTION` to its docstring."""
    code = fn.__code__
    positional = code.co_varnames[:code.co_argcount]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensor = _tensor_type()
        if tensor is None:
            return fn(*args, **kwargs)
        names = {name for name, v in zip(positional, args) if isinstance(v, tensor)}
        names.update(name for name, v in kwargs.items() if isinstance(v, tensor))
        if not names:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except (ValueError, TypeError) as e:
            e.args = (_torch_hints(str(e.args[0]), names), *e.args[1:]) if e.args else e.args
            raise
        out = kwargs.get("out")
        return _as_tensors(result, out if isinstance(out, tensor) else None)

    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + CONVENTION
    return wrapper


def _torch_hints(message: str, torch_names: set) -> str:
    """`message` with the numpy remedies for the torch arguments replaced by torch ones."""
    def swap(m):
        name = m.group(1) or m.group(2)
        if name not in torch_names:
            return m.group(0)
        return f"{name}.contiguous()" if m.group(1) else f"{name}.clone()"
    return _NUMPY_HINT.sub(swap, message)


def _as_tensors(result, out_tensor):
    """numpy results (alone or in a tuple/list) as torch tensors sharing their memory."""
    if isinstance(result, (tuple, list)):
        return type(result)(_as_tensors(r, out_tensor) for r in result)
    if not isinstance(result, np.ndarray):
        return result
    if out_tensor is not None and result.size and result.ctypes.data == out_tensor.data_ptr():
        return out_tensor  # the caller's own buffer, not a second tensor on it
    import torch  # already imported: an argument was a tensor
    if result.dtype == np.uint64:
        result = result.view(np.int64)  # packed words: torch.int64, as torch.ops.pybitnet returns them
    return torch.from_numpy(result)
