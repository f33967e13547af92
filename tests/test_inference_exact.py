"""Exact deployment: the packed engine reproduces trained models' predictions.

Trained for a few hundred steps on real data (MNIST, the CIFAR-10 copy) in the test:
a pybitnet.nn BNN MLP and CNN, a PyTorch BNN MLP and CNN built from pybitnet.torch
modules; then argmax agreement 100 % and logits within float32 tolerance. The first
layer (real inputs, float sums) is where exactness is at stake: a test puts thresholds
exactly on the trained layer's sums and checks every first-layer sign.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import pybitnet
from pybitnet import nn, recipes
from pybitnet.inference import CNNModel, InferenceModel, export, from_torch, from_trained, load

DATA = Path(os.environ.get("PYBITNET_DATA", ""))
needs_mnist = pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason="real MNIST not found (set PYBITNET_DATA)")
needs_cifar = pytest.mark.skipif(not (DATA / "cifar10").is_dir(), reason="CIFAR-10 not found (set PYBITNET_DATA)")
FIXTURES = Path(__file__).parent / "fixtures"


def assert_same_predictions(got, want, what):
    agree = np.mean(np.argmax(got, 1) == np.argmax(want, 1))
    scale = np.abs(want).max() + 1
    diff = np.abs(got - want).max()
    print(f"{what}: argmax agreement {100 * agree:.2f} % on {len(want)} inputs, max |logit diff| {diff:.2e} "
          f"(logits up to {scale - 1:.1f})")
    assert agree == 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)


def batched(f, x, batch):
    return np.concatenate([f(x[i:i + batch]) for i in range(0, len(x), batch)])


# ------------------------------------------------------------------------------- the first layer

def first_block_bits(model, x):
    """The trained model's first-block signs (conv [pool] BN sign, eval mode), packed NHWC."""
    h = x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, nn.SteSign):
            return pybitnet.pack_signs(h, axis=-1)
    raise AssertionError("no SteSign")


@pytest.mark.parametrize("pool", [False, True])
def test_first_conv_thresholds_on_the_trained_sums(pool):
    """Thresholds placed exactly on the trained conv's float sums (BN(y + bias) == 0 at one
    pixel per channel), real-valued inputs: every first-layer sign of the packed engine is
    the trained layer's, pixel for pixel. The fused kernel, which sums in another order,
    is only close (its mismatches are counted, not asserted)."""
    rng = np.random.default_rng(0)
    f = 96
    conv = nn.BinarizedConv2D(3, f, 3, binary_input=False, padding=1, seed=1)
    bn = nn.BatchNorm(f)
    x = rng.uniform(-1, 1, (12, 9, 11, 3)).astype(np.float32)
    conv.eval()
    y = conv.forward(x)  # float sums + bias (0 here)
    pick = rng.integers(0, y.size // f, f)
    conv.bias.value[...] = -y.reshape(-1, f)[pick, np.arange(f)]  # y + bias == 0 exactly there
    bn.gamma.value[...] = np.where(np.arange(f) % 3 == 0, -1.0, 1.0).astype(np.float32)  # some flipped channels
    bn.set_statistics(np.zeros(f, np.float32), np.full(f, 1 - bn.eps, np.float32))
    layers = [conv] + ([nn.MaxPool2D(2)] if pool else []) + [bn, nn.SteSign()]
    tail = [nn.Flatten(), nn.BinarizedDense(f * (20 if pool else 99), 10), nn.BatchNorm(10)]
    model = nn.Sequential(*layers, *tail)
    model.eval()
    want = first_block_bits(model, x)
    packed = from_trained(model, input_shape=x.shape[1:])
    got = packed.layers[0].forward(x)
    assert np.array_equal(got, want)
    fused = packed.layers[0].forward(x, fused=True)
    print(f"fused first conv: {int(np.unpackbits((fused ^ want).view(np.uint8)).sum())} of {want.size * 64} "
          f"sign bits differ from the trained layer's")
    assert_same_predictions(packed.logits(x), model.forward(x), "thresholds on the sums")


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 9, 13, 64])
def test_first_dense_sums_do_not_depend_on_the_batch(m):
    """The MLP's first layer at any batch size gives the float sums of a training batch
    (the kernel's panel order; one-row remainders and short rows padded)."""
    rng = np.random.default_rng(m)
    x = rng.uniform(-1, 1, (64, 784)).astype(np.float32)
    w = pybitnet.pack_signs(rng.standard_normal((300, 784)).astype(np.float32))
    want = pybitnet.binary_weight_matmul(x, w, 784)
    from pybitnet.inference.layers import _weight_rows_product
    got = np.concatenate([_weight_rows_product(x[i:i + m], w, 784) for i in range(0, 64, m)])
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


# ------------------------------------------------------------------------------- pybitnet.nn, trained

@needs_mnist
def test_trained_mnist_mlp_deploys_exactly(tmp_path):
    from pybitnet.train import Trainer
    r = recipes.recipe("bnn", hidden=256, depth=2, epochs=1, batch_size=100, val_size=1000, input_dropout=0.0,
                       hidden_dropout=0.0)
    trainer = Trainer(r, tmp_path, subset=30000, progress=False)  # 300 steps
    trainer.train_epoch()
    model = trainer.model
    model.eval()
    x = trainer.x_test
    want = batched(model.forward, x, 1000)
    packed = load(export(model, tmp_path / "mnist.npz"))
    assert isinstance(packed, InferenceModel)
    assert_same_predictions(packed.logits(x), want, "MNIST BNN MLP (pybitnet.nn), 300 steps")
    assert_same_predictions(batched(packed.logits, x[:300], 7), want[:300], "  the same in batches of 7")
    assert np.mean(np.argmax(want, 1) == trainer.y_test) > 0.85


@needs_cifar
def test_trained_cifar10_cnn_deploys_exactly(tmp_path):
    from pybitnet.train import Trainer
    r = recipes.recipe("bnn", dataset="cifar10", channels=4, hidden=64, epochs=1, batch_size=20, val_size=1000)
    assert r.conv_pad == "zero"  # the recipe's binary convs zero-pad their ±1 inputs (Lasagne)
    trainer = Trainer(r, tmp_path, subset=4000, progress=False)  # 200 steps
    trainer.train_epoch()
    model = trainer.model
    model.eval()
    x = trainer.x_test[:1000]
    want = batched(model.forward, x, 500)
    packed = from_trained(model)
    assert isinstance(packed, CNNModel) and packed.input_shape == (32, 32, 3)
    assert_same_predictions(batched(packed.logits, x, 100), want, "CIFAR-10 BNN CNN (pybitnet.nn), 200 steps")
    np.testing.assert_array_equal(packed.layers[0].forward(x[:200]), first_block_bits(model, x[:200]))
    assert np.mean(np.argmax(want, 1) == trainer.y_test[:1000]) > 0.15  # it learned something (chance: 0.10)


# ------------------------------------------------------------------------------- PyTorch

def torch_mlp(pbt, torch, hidden=256):
    tnn = torch.nn
    return tnn.Sequential(pbt.BinaryLinear(784, hidden, bias=False), tnn.BatchNorm1d(hidden), pbt.Sign(),
                          pbt.BinarizedLinear(hidden, hidden), tnn.BatchNorm1d(hidden), pbt.Sign(),
                          pbt.BinarizedLinear(hidden, 10), tnn.BatchNorm1d(10))


def torch_cnn(pbt, torch, c=8):
    tnn = torch.nn
    return tnn.Sequential(
        pbt.BinaryConv2d(3, c, 3, padding=1), tnn.BatchNorm2d(c), pbt.Sign(),
        pbt.BinaryConv2d(c, c, 3, padding=1), tnn.MaxPool2d(2), tnn.BatchNorm2d(c), pbt.Sign(),
        pbt.BinaryConv2d(c, 2 * c, 3, padding=1), tnn.MaxPool2d(2), tnn.BatchNorm2d(2 * c), pbt.Sign(),
        pbt.BinaryConv2d(2 * c, 2 * c, 3, stride=2, padding=1), tnn.BatchNorm2d(2 * c), pbt.Sign(),
        tnn.Flatten(), pbt.BinarizedLinear(2 * c * 16, 64), tnn.BatchNorm1d(64), pbt.Sign(),
        pbt.BinarizedLinear(64, 10), tnn.BatchNorm1d(10))


def train_torch(model, torch, pbt, x, y, steps, batch):
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    model.train()
    for i in range(steps):
        j = (i * batch) % (len(x) - batch)
        loss = torch.nn.functional.cross_entropy(model(x[j:j + batch]), y[j:j + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        pbt.clip_weights(model)
    model.eval()


@needs_mnist
def test_trained_pytorch_mlp_deploys_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from pybitnet import data
    from pybitnet import torch as pbt
    torch.manual_seed(0)
    ds = data.load_mnist()
    x_tr = torch.from_numpy(data.scale_pm1(ds.x_train[:30000].reshape(30000, -1)))
    x_te = data.scale_pm1(ds.x_test.reshape(len(ds.x_test), -1))
    model = torch_mlp(pbt, torch)
    train_torch(model, torch, pbt, x_tr, torch.from_numpy(ds.y_train[:30000]), 300, 100)
    with torch.no_grad():
        want = model(torch.from_numpy(x_te)).numpy()
    packed = from_torch(model, input_scale=2 / 255, input_offset=-1.0)
    assert isinstance(packed, InferenceModel)
    assert_same_predictions(packed.logits(x_te), want, "MNIST BNN MLP (PyTorch, pybitnet.torch), 300 steps")
    again = load(export(model, tmp_path / "torch.npz"))
    np.testing.assert_array_equal(again.logits(x_te[:500]), packed.logits(x_te[:500]))
    assert np.mean(np.argmax(want, 1) == ds.y_test) > 0.85


@needs_cifar
def test_trained_pytorch_cnn_deploys_exactly():
    torch = pytest.importorskip("torch")
    from pybitnet import data
    from pybitnet import torch as pbt
    torch.manual_seed(0)
    ds = data.load_cifar10()
    nchw = lambda a: np.ascontiguousarray(data.scale_pm1(a).transpose(0, 3, 1, 2))  # noqa: E731
    x_tr, x_te = torch.from_numpy(nchw(ds.x_train[:4000])), nchw(ds.x_test[:2000])
    model = torch_cnn(pbt, torch)
    train_torch(model, torch, pbt, x_tr, torch.from_numpy(ds.y_train[:4000]), 150, 25)
    with torch.no_grad():
        want = model(torch.from_numpy(x_te)).numpy()
    packed = from_torch(model, input_shape=(3, 32, 32))  # (by default the smallest square that fits: 28)
    assert isinstance(packed, CNNModel)
    assert_same_predictions(batched(packed.logits, x_te, 100), want, "CIFAR-10 BNN CNN (PyTorch), 150 steps")
    assert np.mean(np.argmax(want, 1) == ds.y_test[:2000]) > 0.15


def test_pytorch_models_with_random_batch_norms():
    """Negative and zero gammas, biases, H != 1, torch's eps: the torch model's own signs."""
    torch = pytest.importorskip("torch")
    from pybitnet import torch as pbt
    torch.manual_seed(3)
    for model, shape in ((torch_mlp(pbt, torch, 70), (784,)), (torch_cnn(pbt, torch, 8), (3, 32, 32))):
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                c = m.num_features
                m.weight.data.uniform_(-1, 1)
                m.weight.data[0] = 0
                m.bias.data.uniform_(-1, 1)
                m.running_mean.normal_(0, 3)
                m.running_var.uniform_(0.5, 30)
            elif hasattr(m, "H"):
                m.H = 0.5
                if m.bias is not None:
                    m.bias.data.uniform_(-2, 2)
        model.eval()
        x = torch.rand((64,) + shape) * 2 - 1
        with torch.no_grad():
            want = model(x).numpy()
        packed = from_torch(model, input_shape=shape if len(shape) == 3 else None)
        assert_same_predictions(packed.logits(x.numpy()), want, f"PyTorch {shape}, random BN")


def test_from_torch_refuses_what_it_cannot_pack():
    torch = pytest.importorskip("torch")
    from pybitnet import torch as pbt
    tnn = torch.nn
    with pytest.raises(ValueError, match="torch.nn.Sequential"):
        from_torch(pbt.BinaryLinear(4, 4))
    with pytest.raises(ValueError, match="ReLU"):
        from_torch(tnn.Sequential(pbt.BinaryLinear(4, 4), tnn.ReLU()).eval())
    with pytest.raises(ValueError, match="eval mode"):
        from_torch(tnn.Sequential(pbt.BinaryLinear(4, 4), tnn.BatchNorm1d(4), pbt.Sign(), pbt.BinarizedLinear(4, 2)))
    with pytest.raises(ValueError, match="BinaryLinear"):
        from_torch(tnn.Sequential(pbt.BinarizedLinear(4, 4), tnn.BatchNorm1d(4), pbt.Sign(),
                                  pbt.BinarizedLinear(4, 2)).eval())
    for bad in (float("nan"), float("inf"), -1.0):  # 1/sqrt(var + eps): NaN, 0, NaN
        model = tnn.Sequential(pbt.BinaryLinear(4, 4), tnn.BatchNorm1d(4), pbt.Sign(), pbt.BinarizedLinear(4, 2)).eval()
        model[1].running_var[1] = bad
        with pytest.raises(ValueError, match="running variance is NaN, Inf or <= -eps"):
            from_torch(model)


# ------------------------------------------------------------------------------- files

def test_files_of_pybitnet_0_1_still_load():
    """Format table: pybitnet-bnn-mlp v1 and pybitnet-bnn-cnn v1 files (tests/fixtures, written by
    the code before this engine) load and give the logits that code computed."""
    want = np.load(FIXTURES / "legacy_expected.npz")
    mlp = load(FIXTURES / "legacy_mlp_v1.npz")
    assert isinstance(mlp, InferenceModel) and mlp.input_scale == 2 / 255
    np.testing.assert_array_equal(mlp.logits(want["mlp_x"]), want["mlp_logits"])
    np.testing.assert_array_equal(mlp.logits(want["mlp_pixels"], uint8_path="bitplanes"), want["mlp_pixel_logits"])
    cnn = load(FIXTURES / "legacy_cnn_v1.npz")
    assert isinstance(cnn, CNNModel) and cnn.layers[1].pad_value == "zero"
    np.testing.assert_array_equal(cnn.logits(want["cnn_x"], first_conv="fused"), want["cnn_logits"])
    np.testing.assert_allclose(cnn.logits(want["cnn_x"]), want["cnn_logits"], rtol=1e-6, atol=1e-6)


def test_safetensors_export(tmp_path):
    pytest.importorskip("safetensors")
    want = np.load(FIXTURES / "legacy_expected.npz")
    for name in ("legacy_mlp_v1", "legacy_cnn_v1"):
        model = load(FIXTURES / f"{name}.npz")
        path = export(model, tmp_path / f"{name}.safetensors")
        assert open(path, "rb").read(2) != b"PK"
        x = want["mlp_x" if "mlp" in name else "cnn_x"]
        np.testing.assert_array_equal(load(path).logits(x), model.logits(x))
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0x55
    (tmp_path / "bad.safetensors").write_bytes(bytes(raw))
    from pybitnet.inference import InvalidModelFile
    with pytest.raises(InvalidModelFile):
        load(tmp_path / "bad.safetensors")
