"""pybitnet/_hugepages.py: the 2 MiB-aligned block a packed model keeps its weights in."""
import mmap

import numpy as np
import pytest

import pybitnet
from pybitnet import _hugepages
from pybitnet.inference import Model
from pybitnet.inference.layers import Affine, FloatThreshold, PackedDense, RealDense


def test_small_blocks_are_ordinary_memory():
    a = _hugepages.empty_bytes(1000)
    assert a.dtype == np.uint8 and a.shape == (1000,) and a.flags.writeable


@pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"), reason="no madvise(MADV_HUGEPAGE) on this OS")
def test_large_blocks_start_on_a_huge_page():
    a = _hugepages.empty_bytes(3 << 20)
    assert a.shape == (3 << 20,) and a.ctypes.data % _hugepages.HUGE_PAGE == 0
    a[:] = 7  # writable to the last byte
    assert int(a[-1]) == 7


def test_place_together_copies_values_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 2**63, (4096, 64), dtype=np.uint64), np.arange(5, dtype=np.uint64),
              np.zeros((0, 3), np.uint64), rng.integers(0, 2**63, (3, 7, 1), dtype=np.uint64)]
    placed = _hugepages.place_together(arrays)
    for a, p in zip(arrays, placed):
        assert p.dtype == a.dtype and p.shape == a.shape and p.flags.c_contiguous
        np.testing.assert_array_equal(p, a)
        assert p.ctypes.data % 64 == 0 or p.size == 0
    placed[1][0] = 99  # copies, not views of the inputs
    assert arrays[1][0] == 0


def test_model_keeps_copies_of_the_weights():
    rng = np.random.default_rng(1)
    w0 = pybitnet.pack_signs(rng.standard_normal((64, 100)).astype(np.float32))
    w1 = pybitnet.pack_signs(rng.standard_normal((10, 64)).astype(np.float32))
    first = RealDense(w0, 100, FloatThreshold(np.zeros(64, np.float32), np.ones(64, np.float32)))
    last = PackedDense(w1, 64, Affine(np.ones(10, np.float32), np.zeros(10, np.float32)))
    model = Model([first, last])
    x = rng.standard_normal((3, 100)).astype(np.float32)
    before = model.logits(x)
    w0[...] = 0  # the caller's array, no longer the model's
    np.testing.assert_array_equal(model.logits(x), before)


def test_array_helpers_give_values_shapes_and_dtypes():
    rng = np.random.default_rng(2)
    for shape in [(0,), (3, 5), (1024, 512), 7, ()]:
        z = _hugepages.zeros_array(shape)
        assert z.dtype == np.float32 and z.flags.c_contiguous and z.flags.writeable and not z.any()
        assert z.shape == ((shape,) if isinstance(shape, int) else shape)
        a = rng.standard_normal(z.shape).astype(np.float64)
        c = _hugepages.copy_array(a, np.float32)
        assert c.dtype == np.float32 and c.shape == a.shape
        np.testing.assert_array_equal(c, a.astype(np.float32))
        if c.size:
            c.reshape(-1)[0] = 99  # a copy, not a view of `a`
            assert a.reshape(-1)[0] != 99
    t = _hugepages.copy_array(np.arange(12, dtype=np.int64).reshape(3, 4).T)  # non-contiguous input
    assert t.dtype == np.int64 and t.flags.c_contiguous
    np.testing.assert_array_equal(t, np.arange(12).reshape(3, 4).T)


@pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"), reason="no madvise(MADV_HUGEPAGE) on this OS")
def test_large_parameters_and_moments_start_on_a_huge_page():
    from pybitnet import nn, optim

    big = nn.Parameter(np.ones((1024, 512), np.float32), "w")  # 2 MiB
    small = nn.Parameter(np.ones(10, np.float32), "b")
    opt = optim.Adam([big, small], lr=1e-3)
    for a in (big.view(), big.grad, opt.m[0], opt.v[0]):
        assert a.ctypes.data % _hugepages.HUGE_PAGE == 0
    assert opt.m[1].shape == (10,) and not opt.m[1].any()
    big.grad[...] = 1.0
    opt.step()  # the update writes through the blocks
    assert np.all(big.view() < 1.0) and np.all(opt.m[0] != 0)


def test_parameter_keeps_a_copy_of_its_value():
    from pybitnet import nn

    a = np.zeros((4, 3), np.float32)
    p = nn.Parameter(a, "w")
    a[...] = 5  # the caller's array, not the parameter's
    assert not p.view().any()
    p.value = a
    a[...] = 6
    np.testing.assert_array_equal(p.view(), np.full((4, 3), 5, np.float32))


@pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"), reason="no madvise(MADV_HUGEPAGE) on this OS")
def test_packed_sign_cache_guards_a_huge_page_parameter():
    """cache_signs makes the value read-only and .value makes it writable again, on a value in an
    mmap-backed block as on ordinary memory."""
    from pybitnet import nn

    p = nn.Parameter(np.ones((1024, 512), np.float32), "w")
    held = p.view()
    assert held.base is not None and p.view().ctypes.data % _hugepages.HUGE_PAGE == 0
    p.cache_signs(pybitnet.pack_signs(p.view()))
    with pytest.raises(ValueError):
        p._value[0, 0] = 2.0  # the array itself: read-only while the signs are kept
    p.value[0, 0] = 3.0  # taking .value drops the signs and allows writes again
    assert p.view()[0, 0] == 3.0 and p.cached_signs(1024, 512) is None


def test_zeros_array_is_zero_without_a_fill():
    for shape in [(1024, 1024), (3,)]:
        z = _hugepages.zeros_array(shape)
        assert not z.any()
