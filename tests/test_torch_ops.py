"""pybitnet.torch: the kernels as torch custom ops (opcheck, gradients, zero-copy, torch.compile)
and the modules (training loop, MNIST BNN). Skipped when torch is not installed."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pybitnet  # noqa: E402
from pybitnet import torch as pbt  # noqa: E402
from pybitnet._arrays import as_array  # noqa: E402

OPS = torch.ops.pybitnet


def _signs(x):
    return torch.where(x < 0, -1.0, 1.0).to(x.dtype)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


def _inputs(gen, m=5, k=70, n=6):
    x = torch.randn(m, k, generator=gen)
    w = torch.rand(n, k, generator=gen) * 2 - 1
    return x, w


def _ternary(gen, n, k):
    t = torch.randint(-1, 2, (n, k), generator=gen).float()
    return t, pbt.pack_signs(t), pbt.pack_signs(-t.abs())


# -- values ----------------------------------------------------------------------------------
def test_ops_match_float_reference(gen):
    x, w = _inputs(gen)
    k = x.shape[1]
    wb = pbt.pack_signs(w)
    assert wb.dtype == torch.int64 and wb.shape == (6, 2)
    np.testing.assert_array_equal(wb.numpy().view(np.uint64), pybitnet.pack_signs(w.numpy()))
    torch.testing.assert_close(OPS.xnor_gemm(pbt.pack_signs(x), wb, k), (_signs(x) @ _signs(w).T).int())
    torch.testing.assert_close(OPS.binary_weight_matmul(x, wb, k), x @ _signs(w).T, rtol=1e-5, atol=1e-4)
    g = torch.randn(5, 6, generator=gen)
    torch.testing.assert_close(OPS.binary_weight_matmul_t(g, wb, k), g @ _signs(w), rtol=1e-5, atol=1e-4)
    t, s, nz = _ternary(gen, 6, k)
    torch.testing.assert_close(OPS.ternary_weight_matmul(x, s, nz, k), x @ t.T, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(OPS.ternary_weight_matmul_t(g, s, nz, k), g @ t, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(OPS.binarized_linear(x, w), _signs(x) @ _signs(w).T)
    torch.testing.assert_close(OPS.sign(torch.tensor([-2.0, -0.0, 0.0, 3.0])), torch.tensor([-1.0, 1, 1, 1]))
    codes = torch.from_numpy(pybitnet.quantize_pow2(x.numpy(), seed=0))
    torch.testing.assert_close(OPS.shift_matmul(codes, g),
                               torch.from_numpy(pybitnet.dequantize_pow2(codes.numpy())).T @ g, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(pbt.ops._dequantize(codes), torch.from_numpy(pybitnet.dequantize_pow2(codes.numpy())))
    s2, nz2 = OPS.ternarize(w, False, 0)
    t2 = torch.where(w.abs() > 0.5, _signs(w), 0.0)
    torch.testing.assert_close(s2, pbt.pack_signs(t2))
    torch.testing.assert_close(nz2, pbt.pack_signs(-t2.abs()))
    torch.testing.assert_close(OPS.binarize(w, False, 0), wb)


def test_zero_copy_views_share_the_tensor_memory(gen):
    x, w = _inputs(gen, m=64, k=256, n=32)
    assert as_array(x, "x").ctypes.data == x.data_ptr()  # DLPack view: the kernel reads this memory
    assert pbt.ops._np(x, "x").ctypes.data == x.data_ptr()
    bits = pbt.pack_signs(w)
    assert pbt.ops._bits_np(bits, "w_bits").ctypes.data == bits.data_ptr()
    out = np.zeros((3, 4), np.float32)
    assert torch.from_numpy(out).data_ptr() == out.ctypes.data  # results come back without a copy


def test_bad_inputs_name_the_argument(gen):
    x, w = _inputs(gen)
    with pytest.raises(TypeError, match="x must be torch.float32"):
        OPS.binary_weight_matmul(x.double(), pbt.pack_signs(w), 70)
    with pytest.raises(TypeError, match="w_bits must hold packed bits as torch.int64"):
        OPS.binary_weight_matmul(x, pbt.pack_signs(w).int(), 70)


# -- opcheck: schema, fake tensors, autograd registration, AOT dispatch ------------------------
def _opcheck_cases(gen):
    x, w = _inputs(gen)
    k = x.shape[1]
    g = torch.randn(5, 6, generator=gen)
    wb = pbt.pack_signs(w)
    _, s, nz = _ternary(gen, 6, k)
    codes = torch.from_numpy(pybitnet.quantize_pow2(x.numpy(), seed=0))
    gx = torch.randn(5, 6, generator=gen)
    keep = pbt.pack_signs(-(torch.rand(5, k, generator=gen) < 0.7).float())  # mask bits: set = kept
    rg = lambda t: t.clone().requires_grad_(True)  # noqa: E731
    return {
        "sign": (rg(x),),
        "pack_signs": (x,),
        "binarize": (w, True, 7),
        "ternarize": (w, False, 7),
        "xnor_gemm": (pbt.pack_signs(x), wb, k),
        "xnor_gemm_masked": (pbt.pack_signs(x), wb, k, keep),
        "xnor_gemm_threshold": (pbt.pack_signs(x), wb, k, torch.tensor([-3, 0, 2, 5, -70, 70], dtype=torch.int32),
                                torch.tensor([False, True, False, True, False, True])),
        "binary_weight_matmul": (rg(x), wb, k),
        "binary_weight_matmul_t": (rg(g), wb, k),
        "ternary_weight_matmul": (rg(x), s, nz, k),
        "ternary_weight_matmul_t": (rg(g), s, nz, k),
        "shift_matmul": (codes, rg(gx)),
        "binary_linear": (rg(x), rg(w), wb),
        "ternary_linear": (rg(x), rg(w), s, nz),
        "binarized_linear": (rg(x), rg(w)),
    }


@pytest.mark.parametrize("name", pbt.OPS)
def test_opcheck(name, gen):
    args = _opcheck_cases(gen)[name]
    torch.library.opcheck(getattr(OPS, name).default, args)


# -- gradients ---------------------------------------------------------------------------------
# The kernels take float32 only, so double-precision gradcheck cannot run them. The ops that are
# linear in their float input (the weight products, shift_matmul) are exactly linear, so a float32
# gradcheck with a large step and float32 tolerances checks the formula; the STE ops are not the
# derivative of their forward (it is 0 almost everywhere) and are compared with the formula in float64.
_GC = dict(eps=1e-2, atol=1e-3, rtol=1e-3)


@pytest.mark.filterwarnings("ignore:Input #. requires gradient and is not a double")
def test_gradcheck_linear_ops(gen):
    x, w = _inputs(gen, m=3, k=70, n=4)
    k = x.shape[1]
    wb = pbt.pack_signs(w)
    _, s, nz = _ternary(gen, 4, k)
    g = torch.randn(3, 4, generator=gen)
    codes = torch.from_numpy(pybitnet.quantize_pow2(x.numpy(), seed=0))
    cases = [
        (lambda a: OPS.binary_weight_matmul(a, wb, k), x),
        (lambda a: OPS.binary_weight_matmul_t(a, wb, k), g),
        (lambda a: OPS.ternary_weight_matmul(a, s, nz, k), x),
        (lambda a: OPS.ternary_weight_matmul_t(a, s, nz, k), g),
        (lambda a: OPS.shift_matmul(codes, a), g),
        (lambda a: OPS.binary_linear(a, w, wb), x),
    ]
    for fn, a in cases:
        assert torch.autograd.gradcheck(fn, (a.clone().requires_grad_(True),), **_GC)
        assert torch.autograd.gradgradcheck(fn, (a.clone().requires_grad_(True),), **_GC)


def test_straight_through_gradients_match_float64_formula(gen):
    x, w = _inputs(gen, m=4, k=70, n=5)
    x = x * 1.5  # some |x| > 1, where the STE blocks the gradient
    g = torch.randn(4, 5, generator=gen)
    xs, ws = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    OPS.binarized_linear(xs, ws).backward(g)
    x64, w64, g64 = x.double(), w.double(), g.double()
    torch.testing.assert_close(xs.grad.double(), (g64 @ _signs(w64)) * (x64.abs() <= 1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ws.grad.double(), g64.T @ _signs(x64), rtol=1e-5, atol=1e-5)
    # BinaryConnect / ternary layers: dC/dWb straight to the real weights
    for op, extra, wq in [(OPS.binary_linear, (pbt.pack_signs(w),), _signs(w64)),
                          (OPS.ternary_linear, OPS.ternarize(w, False, 0),
                           torch.where(w64.abs() > 0.5, _signs(w64), 0.0))]:
        xs, ws = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        op(xs, ws, *extra).backward(g)
        torch.testing.assert_close(xs.grad.double(), g64 @ wq, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ws.grad.double(), g64.T @ x64, rtol=1e-5, atol=1e-5)
    xs = x.clone().requires_grad_(True)
    OPS.sign(xs).backward(torch.ones_like(x))
    torch.testing.assert_close(xs.grad, (x.abs() <= 1).float())


# -- modules -----------------------------------------------------------------------------------
def test_modules_forward_backward_and_clip(gen):
    torch.manual_seed(0)
    x = torch.randn(8, 40)
    for layer in [pbt.BinaryLinear(40, 7), pbt.BinaryLinear(40, 7, stochastic=True), pbt.TernaryLinear(40, 7),
                  pbt.TernaryLinear(40, 7, stochastic=False), pbt.BinarizedLinear(40, 7)]:
        y = layer(x)
        assert y.shape == (8, 7)
        (y * torch.randn_like(y)).sum().backward()
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        with torch.no_grad():
            layer.weight.mul_(10)
        pbt.clip_weights(layer)
        assert layer.weight.abs().max() <= 1.0
    lin = pbt.BinaryLinear(40, 7)
    torch.testing.assert_close(lin(x), x @ _signs(lin.weight.detach()).T + lin.bias, rtol=1e-5, atol=1e-4)
    bnn = pbt.BinarizedLinear(40, 7)
    torch.testing.assert_close(bnn(x), _signs(x) @ _signs(bnn.weight.detach()).T)


def test_binary_conv2d_matches_conv2d_with_sign_weights():
    torch.manual_seed(0)
    conv = pbt.BinaryConv2d(3, 5, 3, stride=(1, 2), padding=1)
    x = torch.randn(2, 3, 9, 8, requires_grad=True)
    y = conv(x)
    ref = torch.nn.functional.conv2d(x, _signs(conv.weight.detach()), conv.bias, stride=(1, 2), padding=1)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-4)
    y.sum().backward()
    assert x.grad.shape == x.shape and conv.weight.grad.shape == conv.weight.shape


def test_torch_compile_has_no_graph_breaks():
    torch.manual_seed(0)
    model = torch.nn.Sequential(pbt.BinaryLinear(32, 16), torch.nn.BatchNorm1d(16), pbt.Sign(),
                                pbt.BinarizedLinear(16, 16), pbt.TernaryLinear(16, 4, stochastic=False))
    x = torch.randn(8, 32)
    explain = torch._dynamo.explain(model)(x)
    assert explain.graph_break_count == 0 and explain.graph_count == 1
    conv = pbt.BinaryConv2d(3, 4, 3, padding=1)
    assert torch._dynamo.explain(conv)(torch.randn(2, 3, 8, 8)).graph_break_count == 0
    # aot_eager keeps the test fast; the default Inductor backend also compiles this model
    # (checked by hand: ~30 s of C++ compilation, see docs/FRAMEWORKS.md).
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    model.eval()
    torch.testing.assert_close(compiled(x), model(x))
    model.train()
    compiled(x).sum().backward()
    assert model[0].weight.grad is not None


def test_omp_passive_when_pybitnet_is_imported_first_else_a_warning():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "PYBITNET_OMP_SPIN")}
    env["OMP_NUM_THREADS"] = "2"  # the warning is about several threads
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root
    first = subprocess.run([sys.executable, "-W", "error", "-c",
                            "import os, pybitnet, pybitnet.torch; print(os.environ['OMP_WAIT_POLICY'])"],
                           env=env, capture_output=True, text=True, timeout=120, cwd=root)
    assert first.returncode == 0 and first.stdout.strip() == "PASSIVE", first.stderr
    late = subprocess.run([sys.executable, "-W", "error", "-c", "import torch, pybitnet.torch"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=root)
    assert late.returncode != 0 and "import pybitnet before torch" in late.stderr


def test_inference_packs_weights_once_per_version():
    torch.manual_seed(0)
    layer = pbt.BinarizedLinear(70, 9).eval()
    x = torch.randn(4, 70)
    with torch.no_grad():
        y1 = layer(x)
        bits = layer._bits
        assert layer(x) is not None and layer._bits is bits  # reused
        torch.testing.assert_close(y1, _signs(x) @ _signs(layer.weight).T)
        layer.weight.neg_()  # a new weight version is repacked
        torch.testing.assert_close(layer(x), -y1)
        layer.weight.data.mul_(-1)  # PyTorch does not version an edit through .data: forget the packed weights
        pbt.forget_packed_weights(layer)
        torch.testing.assert_close(layer(x), y1)


def test_weight_gradient_is_the_binary_weights_gradient_at_any_scale():
    """y = x @ (H * Wb).T: the real weights get dC/d(H Wb) = g.T @ x (pybitnet.nn, BinaryConnect's
    code), not H times it (the scaled output's gradient had reached them before)."""
    torch.manual_seed(0)
    x, g = torch.randn(6, 70), torch.randn(6, 5)
    for make in (lambda: pbt.BinaryLinear(70, 5, bias=False, scale=0.5),
                 lambda: pbt.TernaryLinear(70, 5, bias=False, stochastic=False, scale=0.25),
                 lambda: pbt.BinarizedLinear(70, 5, scale=0.5)):
        layer = make()
        xi = x.clone().requires_grad_()
        layer(xi).backward(g)
        xin = _signs(x) if isinstance(layer, pbt.BinarizedLinear) else x
        torch.testing.assert_close(layer.weight.grad, g.T @ xin, rtol=1e-5, atol=1e-5)
    conv = pbt.BinaryConv2d(3, 4, 3, bias=False, scale=0.25)
    xc = torch.randn(2, 3, 6, 6)
    y = conv(xc)
    gy = torch.randn_like(y)
    y.backward(gy)
    wb = _signs(conv.weight.detach()).requires_grad_()
    ref = torch.nn.functional.conv2d(xc, wb)
    ref.backward(gy)
    torch.testing.assert_close(conv.weight.grad, wb.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(y, 0.25 * ref.detach(), rtol=1e-5, atol=1e-5)


def test_layers_name_a_wrong_input_shape():
    for layer in (pbt.BinaryLinear(70, 5), pbt.TernaryLinear(70, 5), pbt.BinarizedLinear(70, 5)):
        with pytest.raises(ValueError, match="in_features=70"):
            layer(torch.randn(4, 69))
    conv = pbt.BinaryConv2d(3, 4, 3)
    for x in (torch.randn(3, 6, 6), torch.randn(2, 4, 6, 6)):
        with pytest.raises(ValueError, match="NCHW"):
            conv(x)
    with pytest.raises(ValueError, match="kernel_size"):
        pbt.BinaryConv2d(3, 4, 0)
