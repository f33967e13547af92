"""Inputs from other frameworks: anything with __dlpack__ is viewed, not copied."""
import numpy as np
import pytest

import pybitnet


class DLPackOnly:
    """A foreign tensor: exposes only the DLPack protocol (like a PyTorch CPU tensor)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_dlpack_inputs_are_zero_copy():
    x = np.random.default_rng(0).standard_normal((5, 100)).astype(np.float32)
    view = pybitnet._arrays.as_array(DLPackOnly(x), "x")
    assert view.ctypes.data == x.ctypes.data  # same memory, no copy
    bits = pybitnet.pack_signs(DLPackOnly(x))
    np.testing.assert_array_equal(bits, pybitnet.pack_signs(x))
    np.testing.assert_array_equal(pybitnet.xnor_gemm(DLPackOnly(bits), DLPackOnly(bits), 100),
                                  pybitnet.xnor_gemm(bits, bits, 100))
    np.testing.assert_array_equal(pybitnet.binary_matmul(DLPackOnly(x), DLPackOnly(np.ascontiguousarray(x.T))),
                                  pybitnet.binary_matmul(x, x.T))


def test_torch_tensors_if_installed():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 70)
    bits = pybitnet.pack_signs(x)
    np.testing.assert_array_equal(bits, pybitnet.pack_signs(x.numpy()))
    assert pybitnet._arrays.as_array(x, "x").ctypes.data == x.data_ptr()


def test_unsupported_object_is_named():
    with pytest.raises(TypeError, match="a_bits must be a numpy array or a DLPack"):
        pybitnet.xnor_gemm("nope", np.zeros((1, 1), np.uint64), 1)
