"""pybitnet.summary / `pybitnet summary`: per-layer parameters, bits, kernel-counted operations, memory."""
import numpy as np
import pytest

import pybitnet
from pybitnet import cli, recipes
from pybitnet.summarize import summarize


def test_bnn_mlp_summary_counts_bit_macs_and_no_multiplications():
    model = recipes.build_model(recipes.recipe("bnn", hidden=128), 784, 10)
    s = summarize(model, (784,))
    dense = [l for l in s.layers if "Dense" in l.name]
    assert [l.bit_macs for l in dense] == [0, 128 * 128, 128 * 128, 128 * 10]  # the first layer takes real inputs
    # the first layer: one addition per weight use, one per bias (in the product call, as the binary layers)
    assert dense[0].ops.additions == 784 * 128 + 128 and all(l.ops.multiplications == 0 for l in s.layers)
    assert dense[1].bits == 128 * 128 + 32 * 128  # 1 bit per weight, 32 per bias
    assert sum(l.float32_bytes for l in s.layers) / sum(l.packed_bytes for l in s.layers) > 20
    text = str(s)
    assert "total" in text and "smaller packed than float32" in text


def test_training_step_beside_the_few_multiplications_accounting():
    """Lin et al. 2015, MNIST 784-1024x3-10, minibatch 200: float 1.7480e9 vs TC+QBP 1.8492e6."""
    model = recipes.build_model(recipes.recipe("tc-qbp"), 784, 10)
    s = summarize(model, (784,), training_batch=200)
    assert s.paper_float_mults == 3 * 2_910_208 * 200 == pytest.approx(1.7480e9, rel=2e-3)  # 1.7461e9
    assert s.paper_elementwise_mults == 3 * 3082 * 200 == pytest.approx(1.8492e6, rel=1e-4)
    # the products: adds and shifts; the only multiplications are the layers' scale H, one per forward
    # output (3 * 1024 + 10 per example) and one per input-gradient element of the layers that pass one
    # back (3 * 1024: not the first), within the paper's elementwise count (3 per output)
    assert s.training_ops.multiplications == (3082 + 3072) * 200 <= s.paper_elementwise_mults
    assert s.training_ops.shifts > 0
    before = [p.value.copy() for p in model.parameters()]
    summarize(model, (784,), training_batch=8)
    assert all(np.array_equal(a, p.value) for a, p in zip(before, model.parameters()))  # left untouched


def test_cnn_summary():
    model = recipes.build_model(recipes.recipe("bnn", dataset="cifar10", channels=16, hidden=32), (32, 32, 3), 10)
    s = summarize(model, (32, 32, 3))
    convs = [l for l in s.layers if "Conv2D" in l.name]
    assert convs[1].bit_macs == 9 * 16 * 32 * 32 * 16 and convs[0].bit_macs == 0


def test_torch_model_summary():
    torch = pytest.importorskip("torch")
    from pybitnet import torch as pbt

    net = torch.nn.Sequential(pbt.BinaryLinear(784, 64), torch.nn.BatchNorm1d(64), pbt.Sign(),
                              pbt.BinarizedLinear(64, 10), torch.nn.BatchNorm1d(10), torch.nn.Linear(10, 10))
    s = pybitnet.summary(net, (784,), training_batch=16)
    rows = {l.name.split(": ")[1]: l for l in s.layers}
    assert rows["BinarizedLinear"].bit_macs == 640 and rows["BinaryLinear"].ops.additions == 784 * 64
    assert rows["Linear"].ops.multiplications == 100  # torch.nn's own product, counted analytically
    assert rows["BinaryLinear"].bits == 784 * 64 + 32 * 64
    assert s.paper_float_mults == 3 * (784 * 64 + 640 + 100) * 16


def test_cli_summary(tmp_path, capsys):
    from pybitnet import checkpoint
    r = recipes.recipe("bnn", hidden=32)
    model = recipes.build_model(r, 784, 10)
    checkpoint.save(tmp_path / "m.npz", model, meta={"recipe": r.to_dict(), "epoch": 1})
    assert cli.main(["summary", str(tmp_path / "m.npz"), "--training-batch", "10"]) == 0
    out = capsys.readouterr().out
    assert "bnn on mnist (epoch 1)" in out and "Few-Multiplications paper's accounting" in out
    assert cli.main(["summary", str(tmp_path / "nope.npz")]) == 2
