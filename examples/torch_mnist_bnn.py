"""A PyTorch user's whole path with pybitnet: data, a BNN of pybitnet.torch modules, training in an
ordinary loop, torch.compile, the model summary, and deployment to the packed inference engine
(1 bit per weight, XNOR-popcount kernels), checked to give the trained model's predictions.

    python examples/torch_mnist_bnn.py                        # about a minute on 2 cores
    python examples/torch_mnist_bnn.py --subset 60000 --epochs 5 --hidden 1024

Data: MNIST from $PYBITNET_DATA (or ../shared/data); pixels scaled to [-1, 1].
"""
import argparse
import os
import time
from pathlib import Path

import pybitnet  # before torch: torch's OpenMP threads then wait passively (docs/FRAMEWORKS.md)
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pybitnet import data, inference
from pybitnet import torch as pbt


def mnist_loaders(root, subset: int, batch_size: int):
    """DataLoaders over MNIST as float32 in [-1, 1] (train: the first `subset` images, shuffled)."""
    ds = data.load_mnist(root)
    n = min(subset, len(ds.x_train))
    scale = lambda a: torch.from_numpy(a.reshape(len(a), -1).astype(np.float32) / 127.5 - 1)  # noqa: E731
    train = TensorDataset(scale(ds.x_train[:n]), torch.from_numpy(ds.y_train[:n]))
    test = TensorDataset(scale(ds.x_test), torch.from_numpy(ds.y_test))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)),
            DataLoader(test, batch_size=1000))


def bnn(hidden: int) -> torch.nn.Sequential:
    """784 - hidden x 2 - 10: binary weights everywhere, sign activations, batch norm after each product;
    the first layer takes the real pixels (BinaryLinear: additions only), the others ±1 (XNOR-popcount)."""
    nn = torch.nn
    return nn.Sequential(pbt.BinaryLinear(784, hidden, bias=False), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, hidden), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, 10), nn.BatchNorm1d(10))


def accuracy(model, loader) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
    model.train()
    return hits / len(loader.dataset)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("PYBITNET_DATA", str(Path(__file__).parents[2] / "shared/data")))
    p.add_argument("--subset", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (aot_eager: faster compile)")
    p.add_argument("--out", default="runs/torch-mnist-bnn.npz", help="the packed model file")
    a = p.parse_args(argv)
    torch.manual_seed(0)
    train, test = mnist_loaders(a.data, a.subset, a.batch_size)

    model = bnn(a.hidden)
    compiled = torch.compile(model, fullgraph=True, backend=a.compile_backend)  # one graph, no breaks
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        for x, y in train:
            loss = torch.nn.functional.cross_entropy(compiled(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            pbt.clip_weights(model)  # keep the real weights in [-1, 1], as the BNN paper does
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {100 * accuracy(model, test):.2f} % "
              f"({time.perf_counter() - t0:.1f} s)")

    print(pybitnet.summary(model, (784,)))

    model.eval()
    packed = inference.from_torch(model)  # BN + sign folded into integer thresholds, weights packed
    path = inference.export(packed, a.out)
    deployed = inference.load(path)
    x, y = next(iter(test))
    with torch.no_grad():
        want = model(x).argmax(1).numpy()
    got = deployed.predict(x.numpy())
    print(f"packed model {path}: {deployed.weight_bytes() / 2**10:.0f} KiB of weights; argmax agrees with the "
          f"trained model on {100 * np.mean(got == want):.2f} % of {len(x)} test images; "
          f"accuracy {100 * np.mean(got == y.numpy()):.2f} %")
    return float(np.mean(got == want))


if __name__ == "__main__":
    main()
