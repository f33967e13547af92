"""The raw kernels and torch.ops.pybitnet follow one convention (docs/FRAMEWORKS.md, "Mixing the two APIs"):
DLPack / __array__ inputs are viewed, not copied; tensors in -> tensors out; packed bits are uint64 or
int64 (the same words) in both APIs; a non-contiguous tensor gets a torch hint; the fused-threshold and
masked XNOR GEMMs are torch ops too, and compile with fullgraph."""
import subprocess
import sys

import numpy as np
import pytest

import pybitnet
from pybitnet._interop import CONVENTION


class DLPackOnly:
    """A foreign tensor: exposes only the DLPack protocol (like a PyTorch CPU tensor)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class ArrayOnly:
    """An array-like with ``__array__`` only (no DLPack)."""

    def __init__(self, array):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# -- the kernels' inputs, as numpy arrays ------------------------------------------------------
M, K, N = 5, 130, 7
_rng = np.random.default_rng(0)
X = _rng.standard_normal((M, K)).astype(np.float32)
W = _rng.standard_normal((N, K)).astype(np.float32)
G = _rng.standard_normal((M, N)).astype(np.float32)
T = _rng.integers(-1, 2, (N, K)).astype(np.float32)
A_BITS, W_BITS = pybitnet.pack_signs(X), pybitnet.pack_signs(W)
S_BITS, NZ_BITS = pybitnet.pack_ternary(T)
KEEP_F = -(_rng.random((M, K)) < 0.7).astype(np.float32)  # -1 = kept, -0.0 = dropped
KEEP = pybitnet.pack_signs(KEEP_F)  # mask bits: set = kept
CODES = pybitnet.quantize_pow2(X, seed=0)
THRESHOLDS = _rng.integers(-20, 20, N).astype(np.int32)
FLIP = _rng.random(N) < 0.5

# every array-taking function of pybitnet.__all__: (function, args, kwargs)
CASES = {
    "pack_signs": ("pack_signs", (X,), {}),
    "unpack_signs": ("unpack_signs", (A_BITS, K), {}),
    "binarize": ("binarize", (W,), dict(stochastic=True, seed=3)),
    "ternarize": ("ternarize", (W,), dict(seed=3)),
    "dropout": ("dropout", (W, 0.5), dict(seed=3)),
    "pack_ternary": ("pack_ternary", (T,), {}),
    "xnor_gemm": ("xnor_gemm", (A_BITS, W_BITS, K), {}),
    "xnor_gemm[mask]": ("xnor_gemm", (A_BITS, W_BITS, K), dict(mask=KEEP)),
    "xnor_gemm_threshold": ("xnor_gemm_threshold", (A_BITS, W_BITS, K, THRESHOLDS, FLIP), {}),
    "binary_matmul": ("binary_matmul", (X, W.T), {}),  # W.T: an F-ordered view, accepted without a copy
    "binary_weight_matmul": ("binary_weight_matmul", (X, W_BITS, K), {}),
    "binary_weight_matmul_t": ("binary_weight_matmul_t", (G, W_BITS, K), {}),
    "ternary_weight_matmul": ("ternary_weight_matmul", (X, S_BITS, NZ_BITS, K), {}),
    "ternary_weight_matmul_t": ("ternary_weight_matmul_t", (G, S_BITS, NZ_BITS, K), {}),
    "quantize_pow2": ("quantize_pow2", (X,), dict(seed=1)),
    "dequantize_pow2": ("dequantize_pow2", (CODES,), {}),
    "shift_matmul": ("shift_matmul", (CODES, G), {}),
    "shift_matmul_fixed_bound": ("shift_matmul_fixed_bound", (CODES, G), {}),
}
# the rest of pybitnet.__all__ takes no arrays (or returns operation counts, not arrays)
NOT_KERNELS = {"__version__", "active_kernels", "available_isas", "build_info", "count_ops", "cpu_features", "data",
               "float_gemm_ops", "get_num_threads", "InvalidModelFile", "NonFiniteUpdate", "isa", "kernel_calls", "OpCounts",
               "qbp_dense_step_ops", "select_variant", "set_num_threads", "shift_matmul_ops", "summary",
               "variants", "reuse_memory", "release_memory", "memory_cache_stats",
               "thread_plans", "reset_thread_plans"}


def _call(case, convert):
    name, args, kwargs = CASES[case]
    return getattr(pybitnet, name)(*map(convert, args), **{k: convert(v) for k, v in kwargs.items()})


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def _tensor(torch, keep_uint64=False):
    """numpy -> torch.from_numpy (zero-copy); uint64 words as int64 (what torch ops return) unless keep_uint64."""
    def convert(v):
        if not isinstance(v, np.ndarray):
            return v
        return torch.from_numpy(v if keep_uint64 or v.dtype != np.uint64 else v.view(np.int64))
    return convert


def _assert_same_words(got, want):
    """`got` (tensor or array; int64 or uint64 words, or any other dtype) holds exactly `want`'s values."""
    got = got.numpy() if hasattr(got, "numpy") else got
    if want.dtype == np.uint64:
        assert got.dtype in (np.int64, np.uint64), got.dtype
        got = got.view(np.uint64)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# -- DLPack and __array__ (no torch needed) ----------------------------------------------------
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


def test_array_protocol_inputs_are_viewed():
    assert pybitnet._arrays.as_array(ArrayOnly(X), "x").ctypes.data == X.ctypes.data
    np.testing.assert_array_equal(pybitnet.xnor_gemm(ArrayOnly(A_BITS), ArrayOnly(W_BITS), K),
                                  pybitnet.xnor_gemm(A_BITS, W_BITS, K))


def test_unsupported_object_is_named():
    with pytest.raises(TypeError, match="a_bits must be a numpy array or a DLPack"):
        pybitnet.xnor_gemm("nope", np.zeros((1, 1), np.uint64), 1)


def test_every_array_function_follows_the_convention():
    exported = set(pybitnet.__all__) - NOT_KERNELS
    assert exported == {name for name, _, _ in CASES.values()}
    for name in exported:
        fn = getattr(pybitnet, name)
        assert hasattr(fn, "__wrapped__") and CONVENTION.strip() in fn.__doc__, name


@pytest.mark.parametrize("case", [c for c in CASES if any(
    isinstance(v, np.ndarray) and v.dtype == np.uint64 for v in CASES[c][1] + tuple(CASES[c][2].values()))])
def test_int64_packed_bits_are_the_same_words(case):
    """Every packed-bit argument takes int64 words (torch's packed dtype) as well as uint64, in place."""
    as_int64 = lambda v: v.view(np.int64) if isinstance(v, np.ndarray) and v.dtype == np.uint64 else v  # noqa: E731
    for got, want in zip(_outputs(_call(case, as_int64)), _outputs(_call(case, lambda v: v))):
        assert isinstance(got, np.ndarray)  # numpy in, numpy out
        _assert_same_words(got, want)


def test_import_pybitnet_does_not_import_torch():
    code = ("import sys, numpy as np, pybitnet; pybitnet.xnor_gemm(pybitnet.pack_signs(np.ones((2, 70), np.float32)),"
            " np.zeros((3, 2), np.int64), 70); assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


# -- tensors in, tensors out --------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_tensors_in_tensors_out_with_the_numpy_results(case, torch):
    want = _outputs(_call(case, lambda v: v))
    assert all(isinstance(w, np.ndarray) for w in want)  # numpy in, numpy out
    for convert in (_tensor(torch), _tensor(torch, keep_uint64=True)):
        got = _outputs(_call(case, convert))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert isinstance(g, torch.Tensor), type(g)
            assert g.dtype != torch.uint64  # packed words come back as torch.int64, like torch.ops.pybitnet
            _assert_same_words(g, w)


def test_one_tensor_argument_is_enough(torch):
    got = pybitnet.binary_weight_matmul(torch.from_numpy(X), W_BITS, K)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), pybitnet.binary_weight_matmul(X, W_BITS, K))


def test_out_tensor_is_written_and_returned(torch):
    out = torch.empty(M, K)
    got = pybitnet.binary_weight_matmul_t(torch.from_numpy(G), W_BITS, K, out=out)
    assert got is out
    np.testing.assert_array_equal(out.numpy(), pybitnet.binary_weight_matmul_t(G, W_BITS, K))
    out_np = np.empty((M, K), np.float32)
    assert pybitnet.binary_weight_matmul_t(G, W_BITS, K, out=out_np) is out_np


# -- packed bits cross between the two APIs ---------------------------------------------------
def test_torch_ops_packed_bits_feed_the_raw_kernels(torch):
    import pybitnet.torch  # noqa: F401  (registers the operators)
    ops = torch.ops.pybitnet
    x, w, t, g = (torch.from_numpy(v) for v in (X, W, T, G))
    a, wb = ops.pack_signs(x), ops.pack_signs(w)
    s, nz = ops.ternarize(t, False, 0)  # t is ternary already: its own sign and nonzero bits
    keep = torch.from_numpy(KEEP.view(np.int64))
    th, fl = torch.from_numpy(THRESHOLDS), torch.from_numpy(FLIP)
    assert a.dtype == torch.int64
    # the torch op's packed output, given to the raw kernel, as numpy int64 and as a tensor
    for conv in (lambda v: v.numpy(), lambda v: v):
        _assert_same_words(pybitnet.xnor_gemm(conv(a), conv(wb), K), pybitnet.xnor_gemm(A_BITS, W_BITS, K))
        _assert_same_words(pybitnet.xnor_gemm(conv(a), conv(wb), K, mask=conv(keep)),
                           pybitnet.xnor_gemm(A_BITS, W_BITS, K, mask=KEEP))
        _assert_same_words(pybitnet.xnor_gemm_threshold(conv(a), conv(wb), K, THRESHOLDS, FLIP),
                           pybitnet.xnor_gemm_threshold(A_BITS, W_BITS, K, THRESHOLDS, FLIP))
        _assert_same_words(pybitnet.binary_weight_matmul(X, conv(wb), K), pybitnet.binary_weight_matmul(X, W_BITS, K))
        _assert_same_words(pybitnet.binary_weight_matmul_t(G, conv(wb), K),
                           pybitnet.binary_weight_matmul_t(G, W_BITS, K))
        _assert_same_words(pybitnet.ternary_weight_matmul(X, conv(s), conv(nz), K),
                           pybitnet.ternary_weight_matmul(X, S_BITS, NZ_BITS, K))
        _assert_same_words(pybitnet.ternary_weight_matmul_t(G, conv(s), conv(nz), K),
                           pybitnet.ternary_weight_matmul_t(G, S_BITS, NZ_BITS, K))
        _assert_same_words(pybitnet.unpack_signs(conv(a), K), np.where(X < 0, -1.0, 1.0).astype(np.float32))
    # the ops that have a raw twin return the same words
    _assert_same_words(ops.pack_signs(x), A_BITS)
    _assert_same_words(ops.binarize(w, True, 3), pybitnet.binarize(W, stochastic=True, seed=3))
    for got, want in zip(ops.ternarize(w, True, 3), pybitnet.ternarize(W, seed=3)):
        _assert_same_words(got, want)
    _assert_same_words(ops.xnor_gemm_threshold(a, wb, K, th, fl),
                       pybitnet.xnor_gemm_threshold(A_BITS, W_BITS, K, THRESHOLDS, FLIP))
    _assert_same_words(ops.shift_matmul(pybitnet.quantize_pow2(x, seed=0), g), pybitnet.shift_matmul(CODES, G))


def test_raw_kernels_packed_bits_feed_the_torch_ops(torch):
    import pybitnet.torch  # noqa: F401
    ops = torch.ops.pybitnet
    x, g = torch.from_numpy(X), torch.from_numpy(G)
    th, fl = torch.from_numpy(THRESHOLDS), torch.from_numpy(FLIP)
    # numpy uint64 words as tensors (torch.uint64, zero-copy), and the raw kernels' own tensor results (int64)
    as_u64 = {k: torch.from_numpy(v) for k, v in dict(a=A_BITS, w=W_BITS, s=S_BITS, nz=NZ_BITS, keep=KEEP).items()}
    s_t, nz_t = pybitnet.pack_ternary(torch.from_numpy(T))
    from_raw = dict(a=pybitnet.pack_signs(x), w=pybitnet.pack_signs(torch.from_numpy(W)), s=s_t, nz=nz_t,
                                    keep=pybitnet.pack_signs(torch.from_numpy(KEEP_F)))
    assert as_u64["a"].dtype == torch.uint64 and from_raw["a"].dtype == torch.int64
    for b in (as_u64, from_raw):
        _assert_same_words(ops.xnor_gemm(b["a"], b["w"], K), pybitnet.xnor_gemm(A_BITS, W_BITS, K))
        _assert_same_words(ops.xnor_gemm_masked(b["a"], b["w"], K, b["keep"]),
                           pybitnet.xnor_gemm(A_BITS, W_BITS, K, mask=KEEP))
        _assert_same_words(ops.xnor_gemm_threshold(b["a"], b["w"], K, th, fl),
                           pybitnet.xnor_gemm_threshold(A_BITS, W_BITS, K, THRESHOLDS, FLIP))
        _assert_same_words(ops.binary_weight_matmul(x, b["w"], K), pybitnet.binary_weight_matmul(X, W_BITS, K))
        _assert_same_words(ops.binary_weight_matmul_t(g, b["w"], K), pybitnet.binary_weight_matmul_t(G, W_BITS, K))
        _assert_same_words(ops.ternary_weight_matmul(x, b["s"], b["nz"], K),
                           pybitnet.ternary_weight_matmul(X, S_BITS, NZ_BITS, K))
        _assert_same_words(ops.ternary_weight_matmul_t(g, b["s"], b["nz"], K),
                           pybitnet.ternary_weight_matmul_t(G, S_BITS, NZ_BITS, K))
        _assert_same_words(ops.binary_linear(x, torch.from_numpy(W), b["w"]),
                           pybitnet.binary_weight_matmul(X, W_BITS, K))


# -- contiguity: the raw kernels refuse (with the caller's framework's hint), the torch ops copy ----
def test_non_contiguous_tensor_gets_a_torch_hint(torch):
    xt = torch.from_numpy(np.asfortranarray(X))  # X's values, not C-contiguous
    assert not xt.is_contiguous()
    with pytest.raises(ValueError, match=r"x must be C-contiguous.*pass x\.contiguous\(\)$"):
        pybitnet.pack_signs(xt)
    with pytest.raises(ValueError, match=r"pass x\.contiguous\(\)$"):
        pybitnet.binary_weight_matmul(xt, W_BITS, K)
    a = torch.from_numpy(np.asfortranarray(A_BITS))
    with pytest.raises(ValueError, match=r"a_bits must have contiguous rows.*pass a_bits\.contiguous\(\)$"):
        pybitnet.xnor_gemm(a, W_BITS, K)
    with pytest.raises(ValueError, match=r"pass bits\.contiguous\(\)$"):
        pybitnet.unpack_signs(torch.from_numpy(A_BITS[:1]).expand(4, -1), K)  # a broadcast (stride 0) view
    # numpy arguments keep the numpy hint, also next to a tensor
    with pytest.raises(ValueError, match=r"pass np\.ascontiguousarray\(x\)$"):
        pybitnet.pack_signs(np.asfortranarray(X))
    with pytest.raises(ValueError, match=r"pass np\.ascontiguousarray\(a_bits\)$"):
        pybitnet.xnor_gemm(np.asfortranarray(A_BITS), torch.from_numpy(W_BITS), K)


def test_torch_ops_copy_non_contiguous_inputs(torch):
    from pybitnet import torch as pbt
    ops = torch.ops.pybitnet
    xt = torch.from_numpy(np.asfortranarray(X))
    wb = torch.from_numpy(np.asfortranarray(W_BITS.view(np.int64)))
    assert not xt.is_contiguous() and not wb.is_contiguous()
    _assert_same_words(ops.binary_weight_matmul(xt, wb, K), pybitnet.binary_weight_matmul(X, W_BITS, K))
    _assert_same_words(pbt.pack_signs(xt), A_BITS)


def test_tensor_requiring_grad_is_named(torch):
    with pytest.raises(TypeError, match="x: cannot view this Tensor.*detach"):
        pybitnet.pack_signs(torch.from_numpy(X).requires_grad_())


# -- the new torch ops: numpy's results, fake impls, torch.compile --------------------------------
def test_new_torch_ops_compile_with_fullgraph(torch):
    import pybitnet.torch  # noqa: F401
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile unavailable")
    ops = torch.ops.pybitnet

    def layer(x, wb, keep, th, fl):
        a = ops.pack_signs(x)
        return ops.xnor_gemm_threshold(a, wb, x.shape[1], th, fl), ops.xnor_gemm_masked(a, wb, x.shape[1], keep)

    args = (torch.from_numpy(X), torch.from_numpy(W_BITS.view(np.int64)), torch.from_numpy(KEEP.view(np.int64)),
            torch.from_numpy(THRESHOLDS), torch.from_numpy(FLIP))
    explain = torch._dynamo.explain(layer)(*args)
    assert explain.graph_break_count == 0 and explain.graph_count == 1
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)  # aot_eager: fake impls, no C++ build
    bits, masked = compiled(*args)
    _assert_same_words(bits, pybitnet.xnor_gemm_threshold(A_BITS, W_BITS, K, THRESHOLDS, FLIP))
    _assert_same_words(masked, pybitnet.xnor_gemm(A_BITS, W_BITS, K, mask=KEEP))
    bits_u64, _ = compiled(args[0], torch.from_numpy(W_BITS), *args[2:])  # uint64 words compile too
    _assert_same_words(bits_u64, pybitnet.xnor_gemm_threshold(A_BITS, W_BITS, K, THRESHOLDS, FLIP))


def test_new_torch_ops_name_bad_dtypes(torch):
    import pybitnet.torch  # noqa: F401
    ops = torch.ops.pybitnet
    a, wb = torch.from_numpy(A_BITS), torch.from_numpy(W_BITS)
    th, fl = torch.from_numpy(THRESHOLDS), torch.from_numpy(FLIP)
    with pytest.raises(TypeError, match="thresholds must be torch.int32"):
        ops.xnor_gemm_threshold(a, wb, K, th.long(), fl)
    with pytest.raises(TypeError, match="flip must be torch.bool"):
        ops.xnor_gemm_threshold(a, wb, K, th, fl.int())
    with pytest.raises(TypeError, match="mask must hold packed bits as torch.int64"):
        ops.xnor_gemm_masked(a, wb, K, a.int())
