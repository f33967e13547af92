"""pybitnet.layout.transpose: numpy's a.T copy, bit for bit, on every ISA; clear errors."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops, layout

ISAS = pybitnet.available_isas()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (1, 1), (16, 16), (17, 33), (2100, 20), (5, 1030)])
def test_transpose_is_a_T(isa, shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = _bitops.transpose(a, isa)
    assert got.shape == shape[::-1] and got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_array_equal(got, a.T)


def test_transpose_takes_torch_tensors_without_copies():
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    np.testing.assert_array_equal(layout.transpose(t), t.numpy().T)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4), np.float64), "a must have dtype float32"),
    (np.zeros(4, np.float32), "a must be 2-D"),
    (np.zeros((4, 8), np.float32)[:, ::2], "a must be C-contiguous"),
    (np.zeros((4, 8), np.float32).T, "a must be C-contiguous"),
])
def test_transpose_names_the_bad_argument(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        layout.transpose(bad)
