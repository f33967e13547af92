"""pack_signs / unpack_signs: the bit contract of src/bitops/bits.h."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pybitnet
from pybitnet import _bitops
from conftest import signs

DTYPES = [np.float32, np.float64, np.int8, np.int16]
KS = [1, 2, 63, 64, 65, 127, 128, 129, 784, 1000]


def reference_pack(x, axis=-1):
    """Pure-numpy packing, independent of the kernels."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    k = x.shape[-1]
    words = -(-k // 64)
    bits = np.zeros(x.shape[:-1] + (words * 64,), np.uint8)
    bits[..., :k] = x < 0
    packed = np.packbits(bits, axis=-1, bitorder="little").view("<u8")
    return np.moveaxis(packed, -1, axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", KS)
def test_rows_match_reference(isa, rng, dtype, k):
    x = (rng.standard_normal((5, k)) * 50).astype(dtype)
    np.testing.assert_array_equal(_bitops.pack_signs(x, -1, isa), reference_pack(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((130, 7), 0), ((3, 70, 5), 1), ((65, 300), 0), ((2, 3, 129), 2), ((1, 1), 0)])
def test_any_axis_matches_reference(isa, rng, dtype, shape, axis):
    x = (rng.standard_normal(shape) * 50).astype(dtype)
    np.testing.assert_array_equal(_bitops.pack_signs(x, axis, isa), reference_pack(x, axis))


@pytest.mark.parametrize("k", [1, 64, 65, 200])
def test_one_hot_bit_order(isa, k):
    """Element i of a row is bit i % 64 of word i // 64 (LSB first); 1 means negative."""
    x = np.ones((k, k), np.float32) - 2 * np.eye(k, dtype=np.float32)  # row i: -1 at i only
    bits = _bitops.pack_signs(x, -1, isa)
    for i in range(k):
        expected = np.zeros(-(-k // 64), np.uint64)
        expected[i // 64] = np.uint64(1) << np.uint64(i % 64)
        np.testing.assert_array_equal(bits[i], expected)


@pytest.mark.parametrize("k", [1, 63, 65, 127, 1000])
def test_padding_bits_are_zero(isa, k):
    x = -np.ones((3, k), np.float32)  # every real bit set
    bits = _bitops.pack_signs(x, -1, isa)
    valid = (1 << (k % 64)) - 1 if k % 64 else (1 << 64) - 1
    assert all(int(w) == valid for w in bits[:, -1])
    assert (bits[:, :-1] == np.uint64(2**64 - 1)).all()


def test_zero_and_negative_zero_are_plus_one(isa):
    x = np.array([0.0, -0.0, 1e-45, -1e-45, np.inf, -np.inf], np.float32)
    assert int(_bitops.pack_signs(x, -1, isa)[0]) == 0b101000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", [0, 9, 17, 33, 40, 56, 63, 64, 99])  # every vector of a whole word
def test_nan_raises(isa, dtype, where):
    x = np.ones(100, dtype)
    x[where] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _bitops.pack_signs(x, -1, isa)
    with pytest.raises(ValueError, match="NaN"):
        _bitops.pack_signs(x.reshape(100, 1), 0, isa)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack_inverts_pack(rng, dtype):
    for shape, axis in [((4, 130), -1), ((130, 4), 0), ((2, 65, 3), 1)]:
        pm1 = np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
        out = pybitnet.unpack_signs(pybitnet.pack_signs(pm1, axis), shape[axis], axis, dtype)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, pm1)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=140),
                  elements=st.floats(-1e6, 1e6, width=32)), st.data())
def test_property_matches_reference(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    isa = data.draw(st.sampled_from(pybitnet.available_isas()))
    np.testing.assert_array_equal(_bitops.pack_signs(x, axis, isa), reference_pack(x, axis))
    np.testing.assert_array_equal(pybitnet.unpack_signs(reference_pack(x, axis), x.shape[axis], axis), signs(x))


def test_empty_inputs(isa):
    assert _bitops.pack_signs(np.zeros((0, 10), np.float32), -1, isa).shape == (0, 1)
    assert _bitops.pack_signs(np.zeros((3, 0), np.float32), -1, isa).shape == (3, 0)
    assert _bitops.pack_signs(np.zeros((0, 5), np.float32), 0, isa).shape == (0, 5)


def test_large_parallel_pack_matches_reference(rng):
    x = rng.standard_normal((3000, 777)).astype(np.float32)
    for threads in (1, 2):
        pybitnet.set_num_threads(threads)
        np.testing.assert_array_equal(pybitnet.pack_signs(x), reference_pack(x))
        np.testing.assert_array_equal(pybitnet.pack_signs(x, axis=0), reference_pack(x, 0))


class TestBadInput:
    def test_wrong_dtype(self):
        with pytest.raises(TypeError, match="x must have dtype"):
            pybitnet.pack_signs(np.ones(5, np.int32))
        with pytest.raises(TypeError, match="x must have dtype"):
            pybitnet.pack_signs(np.ones(5, np.float16))

    def test_not_an_array(self):
        with pytest.raises(TypeError, match="x must be a numpy array"):
            pybitnet.pack_signs([1.0, -1.0])

    def test_axis_out_of_range(self):
        with pytest.raises(ValueError, match="axis 2 is out of range"):
            pybitnet.pack_signs(np.ones((2, 2), np.float32), axis=2)

    def test_zero_dim(self):
        with pytest.raises(ValueError, match="at least 1 dimension"):
            pybitnet.pack_signs(np.array(1.0, np.float32))

    def test_non_contiguous_is_rejected_not_copied(self):
        x = np.ones((10, 10), np.float32)[:, ::2]
        with pytest.raises(ValueError, match="C-contiguous"):
            pybitnet.pack_signs(x)

    def test_unknown_isa(self):
        with pytest.raises(ValueError, match="unknown ISA"):
            _bitops.pack_signs(np.ones(3, np.float32), -1, "sse9")

    def test_unpack_checks(self):
        bits = pybitnet.pack_signs(np.ones((2, 70), np.float32))
        with pytest.raises(TypeError, match="bits must have dtype uint64 or int64"):
            pybitnet.unpack_signs(bits.astype(np.int32), 70)
        with pytest.raises(ValueError, match="needs ceil"):
            pybitnet.unpack_signs(bits, 200)
        with pytest.raises(ValueError, match="k must be >= 0"):
            pybitnet.unpack_signs(bits, -1)
        with pytest.raises(TypeError, match="k must be an int"):
            pybitnet.unpack_signs(bits, 70.0)
        with pytest.raises(ValueError, match="padding"):
            pybitnet.unpack_signs(np.full((2, 2), 2**64 - 1, np.uint64), 70)
