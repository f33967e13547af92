"""Cross-evaluate pybitnet's and the PyTorch reference's trained CIFAR-10 BNNs, to tell an
evaluation difference from a training difference (docs/RESULTS.md, CIFAR-10).

    python scripts/cifar_cross_eval.py runs/cifar10-bnn/best.npz runs/reference-cifar10-bnn/last.npz

Loads each side's checkpoint (parameters and BN running averages) into both pybitnet's model
and the reference's ConvNet (tests/torch_reference.py) and prints the four test errors, plus
whether the two sides' data (train / validation / test arrays) are identical. Needs torch.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import pybitnet  # noqa: E402  (before torch and numpy's BLAS: see pybitnet/__init__.py)
import torch  # noqa: E402
import torch_reference as ref  # noqa: E402
from pybitnet import recipes  # noqa: E402
from pybitnet.nn.norm import BatchNorm  # noqa: E402
from pybitnet.train import error_rate  # noqa: E402


def pybitnet_arrays(path):
    z = np.load(path, allow_pickle=False)
    n = sum(k.startswith("param/") for k in z.files)
    keys = sorted({k.split("/")[1] for k in z.files if k.endswith("running_mean")}, key=int)
    return ([z[f"param/{i}"] for i in range(n)],
            [(z[f"buffer/{k}/running_mean"], z[f"buffer/{k}/running_inv_std"]) for k in keys])


def reference_arrays(path):
    z = np.load(path, allow_pickle=False)
    n = sum(k.startswith("p") and k[1:].isdigit() for k in z.files)
    bn = sum(k.startswith("mean") for k in z.files)
    return [z[f"p{i}"] for i in range(n)], [(z[f"mean{i}"], z[f"inv{i}"]) for i in range(bn)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pybitnet_checkpoint")
    p.add_argument("reference_checkpoint")
    p.add_argument("--data", default=os.environ.get("PYBITNET_DATA", "../shared/data"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    pybitnet.set_num_threads(1)
    r = recipes.recipe("bnn", dataset="cifar10")
    mine = recipes.prepare_data(r, a.data)
    theirs = ref.load_cifar10(a.data)
    same = all(np.array_equal(np.asarray(x), y.numpy()) for x, y in zip(mine[:6], theirs))
    print(f"data: pybitnet's and the reference's train/validation/test arrays are {'identical' if same else 'DIFFERENT'}")
    xte, yte = theirs[4], theirs[5]
    model = recipes.build_model(r, (32, 32, 3), 10)
    bns = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    net = ref.ConvNet(seed=0)
    for name, (params, stats) in (("pybitnet", pybitnet_arrays(a.pybitnet_checkpoint)),
                                  ("reference", reference_arrays(a.reference_checkpoint))):
        for q, v in zip(model.parameters(), params, strict=True):
            q.value[...] = v.reshape(q.value.shape)
        for bn, (mean, inv) in zip(bns, stats, strict=True):
            bn.running_mean[...] = mean
            bn.running_inv_std[...] = inv
        model.eval()
        net.load(params)
        for L, (mean, inv) in zip(net.layers, stats, strict=True):
            L["mean"], L["inv_std"] = torch.from_numpy(mean), torch.from_numpy(inv)
        print(f"{name:9s} weights: test error {100 * error_rate(model, xte.numpy(), yte.numpy(), 500):.2f} % "
              f"evaluated by pybitnet, {100 * net.error(xte, yte):.2f} % by the reference")


if __name__ == "__main__":
    main()
