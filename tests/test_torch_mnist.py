"""A PyTorch BNN built from pybitnet.torch modules, trained in an ordinary loop for one epoch on
20k real MNIST images: it reaches the accuracy of the numpy trainer's BNN smoke test (>= 90 %)."""
import os
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from pybitnet import data  # noqa: E402
from pybitnet import torch as pbt  # noqa: E402

pytestmark = pytest.mark.skipif(not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(),
                                reason="real MNIST not found (set PYBITNET_DATA)")


def bnn(hidden: int = 512):
    """784-h-h-10 BNN (Hubara et al. 2016): binary weights everywhere, sign activations after BN."""
    nn = torch.nn
    return nn.Sequential(pbt.BinaryLinear(784, hidden, bias=False), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, hidden), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, 10), nn.BatchNorm1d(10))


def test_pytorch_bnn_one_epoch_mnist():
    torch.manual_seed(0)
    ds = data.load_mnist()
    n = 20000
    x_tr = torch.from_numpy(ds.x_train[:n].reshape(n, -1)).float().div_(127.5).sub_(1)  # inputs in [-1, 1]
    y_tr = torch.from_numpy(ds.y_train[:n])
    x_te = torch.from_numpy(ds.x_test.reshape(len(ds.x_test), -1)).float().div_(127.5).sub_(1)
    y_te = torch.from_numpy(ds.y_test)
    model = bnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    t0 = time.perf_counter()
    model.train()
    for i in range(0, n, 100):
        loss = torch.nn.functional.cross_entropy(model(x_tr[i:i + 100]), y_tr[i:i + 100])
        opt.zero_grad()
        loss.backward()
        opt.step()
        pbt.clip_weights(model)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_te).argmax(1) == y_te).float().mean().item()
    print(f"PyTorch BNN: test accuracy {100 * accuracy:.2f} % after one epoch on {n} images in {seconds:.1f} s")
    assert accuracy >= 0.90
    assert seconds < 40
